import Foundation
import Kafka
import KafkaTest
import Synchronization
import Testing
import KafkaTestSupport

@Suite("Sender: send now, learn of delivery later", .ownThreads, .timeLimit(.minutes(2)))
struct SenderTests {
    /// Reads every message of `topic`/`partition` (a fresh consumer from the oldest offset).
    static func readAll(_ broker: Broker, _ topic: String, _ partition: Int32) throws -> [Message] {
        var conf = ConsumerConf(topic: topic, partition: partition)
        conf.startOffset = .oldest
        conf.retryLimit = 2
        let consumer = try broker.consumer(conf)
        defer { consumer.close() }
        var messages: [Message] = []
        while let message = try? consumer.consume() { messages.append(message) }
        return messages
    }

    @Test("records sent without waiting all resolve; keyed ones sit where Java's murmur2 puts them; the log holds each once")
    func sendThenFlush() throws {
        let cluster = try MockCluster(brokers: 1, topics: ["orders": 4])
        defer { cluster.close() }
        let broker = try Broker.dial(cluster.addresses)
        defer { broker.close() }
        let sender = try broker.sender()
        var receipts: [(key: String?, receipt: DeliveryReceipt)] = []
        for index in 0..<300 {
            let key: String? = index % 5 == 4 ? nil : "customer-\(index % 17)"
            receipts.append((key, try sender.send(Message(key: key, value: "order \(index)"), to: "orders")))
        }
        #expect(sender.flush(timeout: .seconds(20)) == 0)
        var offsets: [Int32: Set<Int64>] = [:]
        for (key, receipt) in receipts {
            let delivery = try receipt.wait()
            #expect(delivery.partition == receipt.partition)
            if let key {
                #expect(delivery.partition == KeyPlacement.murmur2.partition(of: Array(key.utf8), partitions: 4), "key \(key)")
            }
            #expect(offsets[delivery.partition, default: []].insert(delivery.offset).inserted, "offset \(delivery) reported twice")
        }
        for partition in Int32(0)..<4 {
            let log = try Self.readAll(broker, "orders", partition)
            #expect(Set(log.map(\.offset)) == offsets[partition, default: []], "partition \(partition)")
        }
        #expect(offsets.values.reduce(0) { $0 + $1.count } == 300)
    }

    @Test("64 tasks sending and awaiting their receipts concurrently: every record delivered once, with headers")
    func concurrentAwaits() async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["events": 4])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        let sender = try broker.sender()
        let deliveries = try await withThrowingTaskGroup(of: Delivery.self) { group in
            for task in 0..<64 {
                group.addTask {
                    var last: Delivery?
                    for round in 0..<10 {
                        let message = Message(key: nil, value: Array("t\(task)-\(round)".utf8), headers: [Header(key: "task", value: Array("\(task)".utf8))])
                        last = try await sender.send(message, to: "events", partition: Int32(task % 4)).delivered()
                    }
                    return try #require(last)
                }
            }
            return try await group.reduce(into: [Delivery]()) { $0.append($1) }
        }
        #expect(deliveries.count == 64)
        let total = try (Int32(0)..<4).map { try Self.readAll(broker, "events", $0) }.flatMap { $0 }
        #expect(total.count == 640)
        #expect(total.allSatisfy { $0.headers.first?.key == "task" })
    }

    @Test("bad records fail at once with their own error, and nothing else is lost")
    func badInput() throws {
        let cluster = try MockCluster(brokers: 1, topics: ["strict": 2])
        defer { cluster.close() }
        let broker = try Broker.dial(cluster.addresses)
        defer { broker.close() }
        let sender = try broker.sender()
        let good = try sender.send(Message(value: "before"), to: "strict", partition: 0)
        #expect(throws: KafkaError.self) { try sender.send(Message(value: [UInt8](repeating: 1, count: 2_000_000)), to: "strict") }
        do {
            _ = try sender.send(Message(value: [UInt8](repeating: 1, count: 2_000_000)), to: "strict")
        } catch let error as KafkaError {
            #expect(error.errorCode == .messageSizeTooLarge, "\(error)")
        }
        do {
            _ = try sender.send(Message(value: "x"), to: "no-such-topic")
            Issue.record("a send to a missing topic was accepted")
        } catch let error as KafkaError {
            #expect(error.errorCode == .unknownTopicOrPartition, "\(error)")
        }
        do {
            _ = try sender.send(Message(value: "x"), to: "strict", partition: 2)
            Issue.record("a send to partition 2 of 2 was accepted")
        } catch let error as KafkaError {
            #expect(error.errorCode == .unknownTopicOrPartition, "\(error)")
        }
        #expect(throws: KafkaError.invalidArgument("the record for strict has a header name containing a NUL byte, which Kafka clients read as its end; it was not sent")) {
            try sender.send(Message(value: "x", headers: [Header(key: "a\u{0}b", value: nil)]), to: "strict")
        }
        #expect(throws: KafkaError.self) { try sender.send(Message(value: "x"), to: "bad topic name!") }
        let after = try sender.send(Message(value: "after"), to: "strict", partition: 0)
        #expect(try good.wait().offset == 0)
        #expect(try after.wait().offset == 1)
    }

    @Test("a full queue fails a send at once or makes it wait, cancellably, as configured")
    func backPressure() async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["slow": 1])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        var conf = SenderConf()
        conf.maxBufferedMessages = 4
        conf.linger = .zero
        conf.whenFull = .fail
        let failing = try broker.sender(conf)
        conf.whenFull = .wait
        let waiting = try broker.sender(conf)
        // Learn the topic's metadata before the broker slows down.
        _ = try await failing.send(Message(value: "warm"), to: "slow").delivered()
        _ = try await waiting.send(Message(value: "warm"), to: "slow").delivered()
        // Long enough that no acknowledgement makes room while the queue is being filled, on a
        // loaded machine too (with 3 s one came back before the fifth send once).
        try cluster.setRTT(broker: 1, .seconds(8))
        for index in 0..<4 { _ = try await failing.send(Message(value: "f\(index)"), to: "slow") }
        do {
            _ = try await failing.send(Message(value: "one too many"), to: "slow")
            Issue.record("a send to a full queue with whenFull .fail was accepted")
        } catch let error as KafkaError {
            #expect(error.description.contains("queue is full"), "\(error)")
        }
        for index in 0..<4 { _ = try await waiting.send(Message(value: "w\(index)"), to: "slow") }
        let blocked = Task { try await waiting.send(Message(value: "waits"), to: "slow") }
        blocked.cancel()
        await #expect(throws: CancellationError.self) { try await blocked.value }
        // Once the acknowledgements come, room appears and a waiting send goes through.
        let later = try await waiting.send(Message(value: "later"), to: "slow")
        try cluster.setRTT(broker: 1, .zero)
        #expect(try await later.delivered().offset >= 5)
    }

    @Test("closing while two threads send: every send throws closed or its receipt resolves, once; close returns")
    func closeRacesSends() async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["race": 2])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        for round in 0..<3 {
            let sender = try broker.sender()
            _ = try await sender.send(Message(value: "warm"), to: "race").delivered()
            let receipts = Mutex<[DeliveryReceipt]>([])
            let started = Atomic<Int>(0)
            let threadsDone = DispatchGroup()
            for thread in 0..<2 {
                threadsDone.enter()
                Thread.detachNewThread {
                    defer { threadsDone.leave() }
                    started.add(1, ordering: .relaxed)
                    for index in 0..<2_000 {
                        do {
                            let message = Message(value: Array("\(round)-\(thread)-\(index)".utf8))
                            if index % 2 == 0 {
                                let receipt = try sender.send(message, to: "race", partition: Int32(thread % 2))
                                receipts.withLock { $0.append(receipt) }
                            } else {
                                try sender.sendAndForget(message, to: "race")
                            }
                        } catch {
                            #expect(error as? KafkaError == .closed, "a send during close threw \(error)")
                            return
                        }
                    }
                }
            }
            try await eventuallyAsync("two threads sending") {
                started.load(ordering: .relaxed) == 2 && receipts.withLock { $0.count } >= 200
            }
            sender.close()
            threadsDone.wait()
            #expect(sender.inFlight == 0)
            let all = receipts.withLock { $0 }
            for receipt in all {
                switch receipt.outcome {
                case .success, .failure(.closed): break
                case .failure(let error): Issue.record("a receipt failed with \(error), not closed")
                case nil: Issue.record("a receipt was left unresolved by close")
                }
            }
            #expect(throws: KafkaError.closed) { try sender.sendAndForget(Message(value: "late"), to: "race") }
        }
    }

    @Test("failures of receipts nobody awaits reach onFailure; close fails what is in flight with closed")
    func failuresAndClose() async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["lost": 1])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        let failures = FailureLog()
        let sender = try broker.sender(failures.conf(deliveryTimeout: .seconds(1)))
        _ = try await sender.send(Message(value: "warm"), to: "lost").delivered()
        try cluster.setRTT(broker: 1, .seconds(30))
        for index in 0..<3 { _ = try await sender.send(Message(value: "timed out \(index)"), to: "lost") }
        let seen = try await failures.waitFor(count: 3)
        #expect(seen.count == 3, "\(seen)")
        #expect(seen.allSatisfy { $0.topic == "lost" && $0.partition == 0 })
        #expect(sender.failedDeliveries == 3)

        var patient = SenderConf()
        patient.deliveryTimeout = .seconds(60)
        let closing = try broker.sender(patient)
        let inFlight = try await closing.send(Message(value: "never acknowledged"), to: "lost", partition: 0)
        closing.close()
        await #expect(throws: KafkaError.closed) { try await inFlight.delivered() }
        await #expect(throws: KafkaError.closed) { try await closing.send(Message(value: "after close"), to: "lost", partition: 0) }
    }

    @Test("records sent without a receipt land in the log in order; their failures reach onFailure with topic and partition; close reports the unsent as closed")
    func sendAndForget() async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["fire": 2])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        let failures = FailureLog()
        let sender = try broker.sender(failures.conf(deliveryTimeout: .seconds(1)))
        // The blocking calls, from a synchronous function (an async one picks the async overloads).
        func sendBlocking(_ sender: Sender, _ value: String, partition: Int32) throws {
            try sender.sendAndForget(Message(value: value), to: "fire", partition: partition)
        }
        for index in 0..<100 { try sendBlocking(sender, "blocking \(index)", partition: 0) }
        for index in 0..<100 { try await sender.sendAndForget(Message(value: "async \(index)"), to: "fire", partition: 1) }
        #expect(await sender.flush(timeout: .seconds(20)) == 0)
        func values(_ partition: Int32) throws -> [String] {
            try Self.readAll(broker, "fire", partition).map { String(decoding: $0.value ?? [], as: UTF8.self) }
        }
        #expect(try values(0) == (0..<100).map { "blocking \($0)" })
        #expect(try values(1) == (0..<100).map { "async \($0)" })
        #expect(failures.all.isEmpty)

        try cluster.setRTT(broker: 1, .seconds(30))
        try sendBlocking(sender, "timed out", partition: 1)
        let timedOut = try await failures.waitFor(count: 1)
        #expect(timedOut.count == 1 && timedOut.first?.topic == "fire" && timedOut.first?.partition == 1, "\(timedOut)")
        #expect(timedOut.first?.error != KafkaError.closed)
        #expect(sender.failedDeliveries == 1)

        let closedFailures = FailureLog()
        let closing = try broker.sender(closedFailures.conf(deliveryTimeout: .seconds(60)))
        try sendBlocking(closing, "never acknowledged", partition: 0)
        closing.close()
        let unsent = closedFailures.all
        #expect(unsent.count == 1 && unsent.first?.error == KafkaError.closed && unsent.first?.topic == "fire", "\(unsent)")
        #expect(throws: KafkaError.closed) { try sendBlocking(closing, "after close", partition: 0) }
    }

    @Test("senders are idempotent by default: librdkafka reports an assigned producer id")
    func idempotentByDefault() async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["idem": 1])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        var conf = SenderConf()
        conf.properties["statistics.interval.ms"] = "100"
        let sender = try broker.sender(conf)
        _ = try await sender.send(Message(value: "v"), to: "idem").delivered()
        let deadline = ContinuousClock.now + .seconds(20)
        while !broker.allStatistics().contains(where: { $0.replacingOccurrences(of: " ", with: "").contains("\"idemp_state\":\"Assigned\"") }) {
            guard ContinuousClock.now < deadline else {
                Issue.record("no statistics showed an assigned idempotent producer id: \(broker.allStatistics())")
                return
            }
            try await Task.sleep(for: .milliseconds(20))  // librdkafka has no "statistics ready" signal
        }
        #expect(sender.conf.idempotent)
    }
}

/// The delivery failures a sender reported to the `onFailure` of the conf this log made.
private final class FailureLog: Sendable {
    private let failures = Mutex<[DeliveryFailure]>([])

    /// Every failure reported so far.
    var all: [DeliveryFailure] { failures.withLock { $0 } }

    /// A sender conf with `deliveryTimeout` whose failures go to this log.
    func conf(deliveryTimeout: Duration) -> SenderConf {
        var conf = SenderConf()
        conf.deliveryTimeout = deliveryTimeout
        conf.onFailure = { [self] failure in failures.withLock { $0.append(failure) } }
        return conf
    }

    /// The failures once `count` came, or those that came within 20 s.
    func waitFor(count: Int) async throws -> [DeliveryFailure] {
        let deadline = ContinuousClock.now + .seconds(20)
        while all.count < count && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))  // polling the handler's record of librdkafka's timeouts
        }
        return all
    }
}
