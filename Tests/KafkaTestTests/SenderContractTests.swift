import Foundation
import Kafka
import KafkaTest
import Testing
import KafkaTestSupport

/// The sender's behaviours, checked on `MockSender` and on the real `Sender`.
@Suite("Contract: senders on Tier 1 and Tier 2", .ownThreads)
struct SenderContractTests {
    struct KeyedPlacement: SendingBehaviour {
        func check<C: SendingClient>(_ fixture: Fixture<C>) throws {
            let topic = try fixture.makeTopic(3)
            let sender = try fixture.client.sender(SenderConf())
            defer { sender.close() }
            var receipts: [(String, DeliveryReceipt)] = []
            for index in 0..<12 {
                let key = "user-\(index % 4)"
                receipts.append((key, try sender.send(Message(key: key, value: "v\(index)"), to: topic, partition: nil)))
            }
            let pinned = try sender.send(Message(key: "user-0", value: "pinned"), to: topic, partition: 2)
            #expect(sender.flush(timeout: .seconds(10)) == 0)
            var perPartition: [Int32: [Int64]] = [:]
            for (key, receipt) in receipts {
                let delivery = try receipt.wait()
                #expect(delivery.partition == KeyPlacement.murmur2.partition(of: Array(key.utf8), partitions: 3), "key \(key)")
                perPartition[delivery.partition, default: []].append(delivery.offset)
            }
            for offsets in perPartition.values { #expect(offsets == Array(0..<Int64(offsets.count))) }
            #expect(try pinned.wait().partition == 2)
            #expect(try fixture.client.offsetLatest(topic, partition: 2) == Int64(perPartition[2, default: []].count + 1))
        }
    }

    @Test("keyed records land where Java's murmur2 puts them; receipts report the offsets in order", arguments: Target.allCases)
    func keyedPlacement(target: Target) throws { try verifySending(KeyedPlacement(), on: target) }

    struct BadRecords: SendingBehaviour {
        func check<C: SendingClient>(_ fixture: Fixture<C>) throws {
            let topic = try fixture.makeTopic(1)
            let sender = try fixture.client.sender(SenderConf())
            defer { sender.close() }
            func code(_ body: () throws -> DeliveryReceipt) -> ErrorCode? {
                do {
                    _ = try body()
                    return nil
                } catch let error as KafkaError {
                    return error.errorCode
                } catch {
                    return nil
                }
            }
            #expect(code { try sender.send(Message(value: [UInt8](repeating: 0, count: 1_100_000)), to: topic, partition: nil) } == .messageSizeTooLarge)
            #expect(code { try sender.send(Message(value: "x"), to: topic, partition: 1) } == .unknownTopicOrPartition)
            #expect(throws: KafkaError.invalidArgument("the record for \(topic) has a header name containing a NUL byte, which Kafka clients read as its end; it was not sent")) {
                try sender.send(Message(value: "x", headers: [Header(key: "a\u{0}", value: nil)]), to: topic, partition: nil)
            }
            #expect(try sender.send(Message(value: "fine"), to: topic, partition: 0).wait().offset == 0)
            sender.close()
            #expect(throws: KafkaError.closed) { try sender.send(Message(value: "late"), to: topic, partition: 0) }
        }
    }

    @Test("bad records fail at once with the real client's errors; closed is final", arguments: Target.allCases)
    func badRecords(target: Target) throws { try verifySending(BadRecords(), on: target) }
}

@Suite("MockSender: receipts in flight, back-pressure and failures", .ownThreads)
struct MockSenderTests {
    @Test("held records are in flight until delivered; a full queue fails or waits as configured; failures reach onFailure")
    func heldDeliveries() async throws {
        let broker = MockBroker()
        defer { broker.close() }
        broker.createTopic("t", partitions: 1)
        var conf = SenderConf()
        conf.maxBufferedMessages = 2
        conf.whenFull = .fail
        let failures = FailureLog()
        conf.onFailure = { failures.append($0) }
        let sender = try broker.sender(conf)
        sender.holdsDeliveries = true
        let first = try await sender.send(Message(value: "a"), to: "t")
        _ = try await sender.send(Message(value: "b"), to: "t")
        #expect(first.outcome == nil)
        #expect(throws: KafkaError.self) { try sender.send(Message(value: "c"), to: "t") }
        #expect(sender.deliverHeld() == 2)
        #expect(try await first.delivered().offset == 0)

        conf.whenFull = .wait
        let waiting = try broker.sender(conf)
        waiting.holdsDeliveries = true
        let lost = try await waiting.send(Message(value: "x"), to: "t")
        _ = try await waiting.send(Message(value: "y"), to: "t")
        let blocked = Task { try await waiting.send(Message(value: "z"), to: "t") }
        #expect(waiting.failHeld(with: .local(code: -192, message: "message timed out")) == 2)
        let third = try await blocked.value
        #expect(waiting.deliverHeld() == 1)
        #expect(try await third.delivered().offset == 2)
        await #expect(throws: KafkaError.self) { try await lost.delivered() }
        #expect(failures.count == 2)
    }

    @Test("closing the MockBroker fails the receipts its senders hold, as closing a Broker does")
    func brokerCloseFailsHeld() async throws {
        let broker = MockBroker(topics: ["t": 1])
        let sender = try broker.sender()
        sender.holdsDeliveries = true
        let held = try await sender.send(Message(value: "a"), to: "t")
        broker.close()
        await #expect(throws: KafkaError.closed) { try await held.delivered() }
        #expect(throws: KafkaError.closed) { try sender.send(Message(value: "b"), to: "t") }
    }
}

/// Failures a test's `onFailure` saw.
final class FailureLog: @unchecked Sendable {
    // Safe: `failures` is touched only with `lock` held.
    private let lock = NSLock()
    private var failures: [DeliveryFailure] = []
    func append(_ failure: DeliveryFailure) { lock.withLock { failures.append(failure) } }
    var count: Int { lock.withLock { failures.count } }
}
