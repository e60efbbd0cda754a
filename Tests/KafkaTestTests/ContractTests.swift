import Foundation
import Kafka
import KafkaTest
import Testing
import KafkaTestSupport

/// The same behaviours, checked on the in-memory fakes and on the real client,
/// so the fakes cannot drift from what the client does.
@Suite("Contract: Tier 1 and Tier 2 behave alike", .ownThreads)
struct ContractTests {
    struct BaseOffsets: Behaviour {
        func check<C: Client>(_ fixture: Fixture<C>) throws {
            let topic = try fixture.makeTopic(1)
            let producer = try fixture.client.producer(ProducerConf())
            var first = messages(0..<3)
            #expect(try producer.produce(topic, partition: 0, messages: &first) == 0)
            var second = messages(3..<5)
            #expect(try producer.produce(topic, partition: 0, messages: &second) == 3)
            #expect(second.map(\.offset) == [3, 4])
            #expect(second.allSatisfy { $0.topic == topic && $0.partition == 0 })
            #expect(try fixture.client.offsetEarliest(topic, partition: 0) == 0)
            let latest = try fixture.client.offsetLatest(topic, partition: 0)
            withKnownIssue("tansu's ListOffsets does not report the high watermark", isIntermittent: true) {
                #expect(latest == 5)
            } when: { fixture.isTansu }
        }
    }

    @Test("produce returns the base offset and stamps every message", arguments: Target.allCases)
    func baseOffsets(target: Target) throws { try verify(BaseOffsets(), on: target) }

    struct NoDataCount: Behaviour {
        func check<C: Client>(_ fixture: Fixture<C>) throws {
            let topic = try fixture.makeTopic(1)
            var conf = ConsumerConf(topic: topic, partition: 0)
            conf.retryLimit = 3
            conf.retryWait = .milliseconds(123)
            conf.requestTimeout = .milliseconds(10)
            let consumer = try fixture.client.consumer(conf)
            fixture.clock.reset()
            #expect(throws: KafkaError.noData) { try consumer.consume() }
            #expect(fixture.clock.sleeps == Array(repeating: .milliseconds(123), count: 4))
        }
    }

    @Test("retryLimit 3 gives 4 empty reads with retryWait after each, then noData", arguments: Target.allCases)
    func noDataCount(target: Target) throws { try verify(NoDataCount(), on: target) }

    struct StartOffsets: Behaviour {
        func check<C: Client>(_ fixture: Fixture<C>) throws {
            // One topic per consumer: the in-memory broker hands out one consumer per partition, as Go's did.
            func first(_ start: StartOffset) throws -> Int64? {
                let topic = try fixture.makeTopic(1)
                try fixture.client.producer(ProducerConf()).produce(topic, partition: 0, messages: messages(0..<4))
                var conf = ConsumerConf(topic: topic, partition: 0)
                conf.startOffset = start
                conf.retryLimit = 1
                do { return try fixture.client.consumer(conf).consume().offset } catch KafkaError.noData { return nil }
            }
            #expect(try first(.oldest) == 0)
            #expect(try first(.offset(2)) == 2)
            let newest = try first(.newest)
            withKnownIssue("tansu's ListOffsets does not report the high watermark, so newest starts too early", isIntermittent: true) {
                #expect(newest == nil)
            } when: { fixture.isTansu }
        }
    }

    struct StartTime: Behaviour {
        let isInMemory: Bool

        func check<C: Client>(_ fixture: Fixture<C>) throws {
            let topic = try fixture.makeTopic(1)
            let stamp: Int64 = 1_700_000_000_000
            let stamped = (0..<5).map { Message(value: Array("s\($0)".utf8), timestamp: stamp + Int64($0) * 1000) }
            try fixture.client.producer(ProducerConf()).produce(topic, partition: 0, messages: stamped)
            var conf = ConsumerConf(topic: topic, partition: 0)
            conf.startTime = Date(timeIntervalSince1970: Double(stamp + 2500) / 1000)
            conf.retryLimit = 1
            let first = try? fixture.client.consumer(conf).consume().offset
            // librdkafka 2.0.2's mock answers -1 to a lookup by time (the consumer starts at the end)
            // and tansu the earliest offset; the in-memory broker and Kafka answer as asserted.
            withKnownIssue("the embedded cluster and tansu do not look offsets up by timestamp") {
                #expect(first == 3)
            } when: { !isInMemory }
        }
    }

    @Test("startTime starts a partition consumer at the first message stamped at or after it", arguments: Target.allCases)
    func startTime(target: Target) throws { try verify(StartTime(isInMemory: target == .inMemory), on: target) }

    @Test("start offsets oldest, explicit and newest", arguments: Target.allCases)
    func startOffsets(target: Target) throws { try verify(StartOffsets(), on: target) }

    struct Commits: Behaviour {
        func check<C: Client>(_ fixture: Fixture<C>) throws {
            let topic = try fixture.makeTopic(1)
            let coordinator = try fixture.client.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: "contract-\(topic)"))
            #expect(try coordinator.offset(topic, partition: 0) == (-1, ""))
            try coordinator.commit(topic, partition: 0, offset: 7, metadata: "meta")
            let stored = try coordinator.offset(topic, partition: 0)
            #expect(stored.offset == 7)
            withKnownIssue("tansu does not keep commit metadata") {
                #expect(stored.metadata == "meta")
            } when: { fixture.isTansu }
        }
    }

    @Test("a never-committed offset is (-1, \"\"); commits read back with metadata", arguments: Target.allCases)
    func commits(target: Target) throws { try verify(Commits(), on: target) }

    struct MissingPartition: Behaviour {
        func check<C: Client>(_ fixture: Fixture<C>) throws {
            let topic = try fixture.makeTopic(2)
            let error = #expect(throws: KafkaError.self) { try fixture.client.consumer(ConsumerConf(topic: topic, partition: 5)) }
            #expect(error?.errorCode == .unknownTopicOrPartition)
            let produceError = #expect(throws: KafkaError.self) {
                try fixture.client.producer(ProducerConf()).produce(topic, partition: 2, messages: messages(0..<1))
            }
            #expect(produceError?.errorCode == .unknownTopicOrPartition)
        }
    }

    @Test("a partition that does not exist is unknownTopicOrPartition", arguments: Target.allCases)
    func missingPartition(target: Target) throws { try verify(MissingPartition(), on: target) }

    struct MxAutoClose: Behaviour {
        func check<C: Client>(_ fixture: Fixture<C>) throws {
            let topic = try fixture.makeTopic(3)
            let producer = try fixture.client.producer(ProducerConf())
            try producer.produce(topic, partition: 1, messages: messages(0..<2))
            let consumers: [any Consumer] = try (0..<3).map { partition in
                var conf = ConsumerConf(topic: topic, partition: Int32(partition))
                conf.retryLimit = 0
                // One empty fetch ends a consumer: it must be long enough for a new consumer's first
                // fetch to bring partition 1's messages on a loaded machine (50 ms was not, once).
                conf.requestTimeout = .seconds(2)
                return try fixture.client.consumer(conf)
            }
            let mx = Mx.merge(consumers)
            #expect(try mx.consume().offset == 0)
            #expect(try mx.consume().offset == 1)
            #expect(throws: KafkaError.mxClosed) { try mx.consume() }
        }
    }

    @Test("Mx hands out every message, then closes when every consumer reported noData", arguments: Target.allCases)
    func mxAutoClose(target: Target) throws { try verify(MxAutoClose(), on: target) }

    struct HashPlacement: Behaviour {
        func check<C: Client>(_ fixture: Fixture<C>) throws {
            let topic = try fixture.makeTopic(10)
            let hashed = HashProducer(try fixture.client.producer(ProducerConf()), partitions: 10)
            for (key, partition) in [("a", 6), ("foo", 3), ("bar", 2), ("kafka", 5), ("key-1", 8)] as [(String, Int32)] {
                var batch = [Message(key: key, value: "v")]
                _ = try hashed.distribute(topic, messages: &batch)
                #expect(batch[0].partition == partition, "key \(key)")
            }
        }
    }

    @Test("the hash producer places keys on Go's partitions", arguments: Target.allCases)
    func hashPlacement(target: Target) throws { try verify(HashPlacement(), on: target) }

    struct CloseIsFinal: Behaviour {
        func check<C: Client>(_ fixture: Fixture<C>) throws {
            let topic = try fixture.makeTopic(1)
            let producer = try fixture.client.producer(ProducerConf())
            let consumer = try fixture.client.consumer(ConsumerConf(topic: topic, partition: 0))
            let coordinator = try fixture.client.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: "g"))
            fixture.client.close()
            fixture.client.close()
            #expect(throws: KafkaError.closed) { try producer.produce(topic, partition: 0, messages: messages(0..<1)) }
            #expect(throws: KafkaError.closed) { try consumer.consume() }
            #expect(throws: KafkaError.closed) { try coordinator.commit(topic, partition: 0, offset: 1) }
            #expect(throws: KafkaError.closed) { try coordinator.offset(topic, partition: 0) }
            #expect(throws: KafkaError.closed) { try fixture.client.offsetLatest(topic, partition: 0) }
            #expect(throws: KafkaError.closed) { try fixture.client.producer(ProducerConf()) }
            #expect(throws: KafkaError.closed) { try fixture.client.consumer(ConsumerConf(topic: topic, partition: 0)) }
        }
    }

    @Test("close is final and idempotent: every later call throws closed", arguments: Target.allCases)
    func closeIsFinal(target: Target) throws { try verify(CloseIsFinal(), on: target) }
}
