import Foundation
import Kafka
import KafkaTest
import KafkaTestSupport
import Testing

@Suite("OffsetCoordinator", .ownThreads)
struct OffsetCoordinatorTests {
    @Test("a commit with metadata reads back, also from a new coordinator of the same group")
    func commitAndReadBack() throws {
        let cluster = try TestCluster()
        let topic = try cluster.topic(partitions: 2)
        let broker = try cluster.dial()
        defer { broker.close() }
        let group = "g-\(UUID().uuidString.prefix(8))"
        let coordinator = try broker.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: group))
        try coordinator.commit(topic, partition: 1, offset: 12, metadata: "random data")
        let (offset, metadata) = try coordinator.offset(topic, partition: 1)
        #expect(offset == 12)
        let other = try broker.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: group))
        let seenByOther = try other.offset(topic, partition: 1)
        #expect(seenByOther.offset == 12)
        withKnownIssue("tansu does not keep commit metadata") {
            #expect(metadata == "random data")
            #expect(seenByOther.metadata == "random data")
        } when: { cluster.isTansu }
        try other.commit(topic, partition: 1, offset: 20)
        #expect(try coordinator.offset(topic, partition: 1) == (20, ""))
    }

    @Test("an offset never committed reads as -1 with empty metadata")
    func neverCommitted() throws {
        let cluster = try TestCluster()
        let topic = try cluster.topic()
        let broker = try cluster.dial()
        defer { broker.close() }
        let coordinator = try broker.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: "fresh-\(UUID().uuidString.prefix(8))"))
        #expect(try coordinator.offset(topic, partition: 0) == (-1, ""))
    }

    @Test("groups do not see each other's commits")
    func groupsAreSeparate() async throws {
        let cluster = try TestCluster()
        let topic = try cluster.topic()
        let broker = try cluster.dial()
        defer { broker.close() }
        let a = try broker.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: "a-\(UUID().uuidString.prefix(8))"))
        let b = try broker.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: "b-\(UUID().uuidString.prefix(8))"))
        try await a.commit(topic, partition: 0, offset: 5)
        #expect(try await b.offset(topic, partition: 0) == (-1, ""))
        #expect(try await a.offset(topic, partition: 0) == (5, ""))
    }

    @Test("bad input is refused before any request")
    func badInput() throws {
        let cluster = try TestCluster()
        let topic = try cluster.topic()
        let broker = try cluster.dial()
        defer { broker.close() }
        #expect(throws: KafkaError.self) { try broker.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: "")) }
        let coordinator = try broker.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: "g"))
        #expect(throws: KafkaError.self) { try coordinator.commit(topic, partition: 0, offset: -5) }
        let missing = #expect(throws: KafkaError.self) { try coordinator.commit(topic, partition: 7, offset: 1) }
        #expect(missing?.errorCode == .unknownTopicOrPartition)
    }
}
