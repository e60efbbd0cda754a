import Foundation
import Kafka
import KafkaTest
import Testing
import KafkaTestSupport

/// Operations on any consumer group and offsets by time, on the embedded cluster (which serves
/// ListConsumerGroupOffsets, AlterConsumerGroupOffsets and ListOffsets).
@Suite("Group offsets, lag and offsets by time", .ownThreads, .serialized, .timeLimit(.minutes(2)))
struct GroupOffsetsTests {
    /// Messages stamped one second apart from `start` (milliseconds since the epoch).
    static func stamped(_ count: Int, from start: Int64) -> [Message] {
        (0..<count).map { Message(value: Array("m\($0)".utf8), timestamp: start + Int64($0) * 1000) }
    }

    @Test("a group's committed offsets and lag, asked by a process that is not a member; a reset moves them")
    func lagAndReset() async throws {
        try await onThread {
            let cluster = try MockCluster(brokers: 1, topics: ["ops": 2])
            defer { cluster.close() }
            let broker = try Broker.dial(cluster.addresses)
            defer { broker.close() }
            let producer = try broker.producer()
            try producer.produce("ops", partition: 0, messages: values(0..<10))
            try producer.produce("ops", partition: 1, messages: values(0..<4))
            #expect(try broker.committedOffsets(group: "billing", topics: ["ops"]).isEmpty, "a group that never committed")
            let coordinator = try broker.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: "billing"))
            try coordinator.commit("ops", partition: 0, offset: 2)
            try coordinator.commit("ops", partition: 1, offset: 4)
            let p0 = TopicPartition("ops", 0)
            let p1 = TopicPartition("ops", 1)
            #expect(try broker.committedOffsets(group: "billing", topics: ["ops"]) == [p0: 2, p1: 4])
            #expect(try broker.lag(group: "billing", topics: ["ops"]) == [p0: GroupLag(committed: 2, end: 10), p1: GroupLag(committed: 4, end: 4)])
            #expect(try broker.lag(group: "billing", topics: ["ops"])[p0]?.lag == 8)
            try broker.resetOffsets(group: "billing", to: [p0: 7])
            #expect(try broker.committedOffsets(group: "billing", topics: ["ops"]) == [p0: 7, p1: 4])
            #expect(throws: KafkaError.invalidArgument("offset -1 for ops/0 is negative; give the next offset the group reads")) {
                try broker.resetOffsets(group: "billing", to: [p0: -1])
            }
            #expect(throws: KafkaError.invalidArgument("the group id is empty; name the consumer group")) {
                try broker.lag(group: "")
            }
        }
    }

    @Test("the async twins answer as the blocking calls do")
    func asyncTwins() async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["ops": 1])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        try await broker.producer().produce("ops", partition: 0, messages: values(0..<5))
        try await broker.resetOffsets(group: "async", to: [TopicPartition("ops", 0): 1])
        #expect(try await broker.committedOffsets(group: "async", topics: ["ops"]) == [TopicPartition("ops", 0): 1])
        #expect(try await broker.lag(group: "async", topics: ["ops"]) == [TopicPartition("ops", 0): GroupLag(committed: 1, end: 5)])
    }

    @Test("offsets by time: a lookup per partition; a member seeks to a time")
    func byTime() async throws {
        try await onThread {
            let cluster = try TestCluster()
            let topic = try cluster.topic(partitions: 1)
            let broker = try cluster.dial()
            defer { broker.close() }
            let start: Int64 = 1_700_000_000_000
            try broker.producer().produce(topic, partition: 0, messages: Self.stamped(6, from: start))
            let partition = TopicPartition(topic, 0)
            let at = { (millis: Int64) in Date(timeIntervalSince1970: Double(millis) / 1000) }
            let inBetween = try broker.offsets(at: at(start + 2500), topic: topic)
            let pastTheNewest = try broker.offsets(at: at(start + 60_000), topic: topic)
            let consumer = try broker.groupConsumer(quickGroup("timers-\(topic)", [topic]))
            defer { consumer.close() }
            #expect(try (0..<6).map { _ in try consumer.consume().offset } == Array(0..<6))
            try consumer.seek(to: at(start + 4000))
            let afterSeek = try? consumer.consume().offset
            var fromTime = ConsumerConf(topic: topic, partition: 0)
            fromTime.startTime = at(start + 4000)
            fromTime.retryLimit = 2
            let partitionConsumer = try broker.consumer(fromTime)
            let firstFromTime = try? partitionConsumer.consume().offset
            // Neither broker here looks offsets up by timestamp (measured): librdkafka 2.0.2's mock
            // answers -1, tansu the earliest offset. Kafka answers as asserted.
            withKnownIssue("the embedded cluster and tansu do not look offsets up by timestamp") {
                #expect(inBetween == [partition: 3])
                #expect(pastTheNewest == [partition: -1])
                #expect(afterSeek == 4)
                #expect(firstFromTime == 4, "a partition consumer starting at a time")
            } when: {
                !cluster.isExternal || cluster.isTansu
            }
        }
    }
}
