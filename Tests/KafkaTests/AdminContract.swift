import Foundation
import Kafka
import Testing

/// What any ``AdminClient`` must do, written once: `MockAdmin` runs it here; a suite on a real
/// cluster can run it on ``KafkaAdmin`` with a producer and a ``GroupConsumer``. Every name comes
/// from `name`, so a shared cluster's other topics and groups do not disturb it. Only outcomes a
/// Kafka cluster gives are asserted: ``KafkaAdmin``'s own messages, else error codes.
struct AdminContract {
    /// The client under test.
    let admin: any AdminClient
    /// Writes messages to a topic's partition.
    let produce: (_ topic: String, _ partition: Int32, _ messages: [Message]) throws -> Void
    /// Makes an active member of a group reading a topic; returns how it leaves.
    let join: (_ group: String, _ topic: String) throws -> () -> Void
    /// A name no other run uses, starting with the given stem.
    let name: (_ stem: String) -> String

    func checkAll() throws {
        try topics()
        try settings()
        try offsetsAndRecords()
        try groupWithMember()
    }

    /// Create, describe, grow and delete topics; one bad item fails alone.
    func topics() throws {
        let topic = name("contract-topics")
        let zero = name("contract-zero")
        let missing = name("contract-missing")
        let created = try admin.createTopics([
            NewTopic(topic, partitions: 2, configs: ["retention.ms": "3600000"]),
            NewTopic("bad name!", partitions: 1),
            NewTopic(zero, partitions: 0),
        ])
        #expect(created.count == 3)
        try #require(created[topic]).get()
        #expect(failure(created["bad name!"]) == .invalidArgument("topic name \"bad name!\" has an illegal character; use only a-z, A-Z, 0-9, '.', '_' and '-'"))
        #expect(failure(created[zero]) == .invalidArgument("topic \(zero) needs at least 1 partition, not 0"))
        #expect(failure(try admin.createTopics([NewTopic(topic, partitions: 2)])[topic])?.errorCode == .topicAlreadyExists)

        #expect(try admin.listTopics(includeInternal: false).contains(topic))
        let described = try admin.describeTopics([topic, missing], configs: true)
        let description = try #require(described[topic]).get()
        #expect(description.partitions.map(\.id) == [0, 1])
        #expect(description.configs?["retention.ms"]?.value == "3600000")
        #expect(description.configs?["retention.ms"]?.source == .dynamicTopic)
        #expect(failure(described[missing]) == .broker(.unknownTopicOrPartition, message: "topic \(missing) not found in metadata"))
        #expect(try admin.describeTopics([topic], configs: false)[topic]?.get().configs == nil, "settings only when asked for")

        let grown = try admin.createPartitions([topic: 3, missing: 2, zero: 0])
        try #require(grown[topic]).get()
        #expect(failure(grown[missing])?.errorCode == .unknownTopicOrPartition)
        #expect(failure(grown[zero]) == .invalidArgument("topic \(zero) cannot have 0 partitions; give the new total, above today's"))
        #expect(failure(try admin.createPartitions([topic: 3])[topic])?.errorCode == .invalidPartitions, "the total must exceed today's")
        #expect(try admin.describeTopics([topic], configs: false)[topic]?.get().partitions.count == 3)

        let deleted = try admin.deleteTopics([topic, missing])
        try #require(deleted[topic]).get()
        #expect(failure(deleted[missing])?.errorCode == .unknownTopicOrPartition)
    }

    /// alterConfigs replaces a topic's settings; changeConfigs keeps the others.
    func settings() throws {
        let topic = name("contract-settings")
        let missing = name("contract-missing")
        try #require(try admin.createTopics([NewTopic(topic, partitions: 1, configs: ["retention.ms": "3600000"])])[topic]).get()

        let changed = try admin.changeConfigs([.topic(topic): ["max.message.bytes": "2000000"], .topic(missing): ["retention.ms": "1"]])
        try #require(changed[.topic(topic)]).get()
        #expect(failure(changed[.topic(missing)])?.errorCode == .unknownTopicOrPartition)
        var entries = try #require(try admin.describeConfigs([.topic(topic)])[.topic(topic)]).get()
        #expect(entries["retention.ms"]?.value == "3600000", "kept")
        #expect(entries["max.message.bytes"]?.value == "2000000")
        #expect(entries["max.message.bytes"]?.source == .dynamicTopic)

        try #require(try admin.alterConfigs([.topic(topic): ["cleanup.policy": "compact"]])[.topic(topic)]).get()
        entries = try #require(try admin.describeConfigs([.topic(topic)])[.topic(topic)]).get()
        #expect(entries["cleanup.policy"]?.value == "compact")
        #expect(entries["retention.ms"]?.source != .dynamicTopic, "alterConfigs replaced the whole set")
        #expect(entries["max.message.bytes"]?.source != .dynamicTopic)

        #expect(failure(try admin.alterConfigs([.topic(topic): ["retention.msx": "1"]])[.topic(topic)])?.errorCode == .invalidConfig)
        _ = try admin.deleteTopics([topic])
    }

    /// Reset, read, plan and delete a group's offsets; delete records; list, describe and delete the group.
    func offsetsAndRecords() throws {
        let topic = name("contract-offsets")
        let group = name("contract-group")
        let stranger = name("contract-stranger")
        try #require(try admin.createTopics([NewTopic(topic, partitions: 2)])[topic]).get()
        let p0 = TopicPartition(topic, 0)
        let p1 = TopicPartition(topic, 1)
        try produce(topic, 0, values(0..<5))
        try produce(topic, 1, values(0..<2))

        #expect(throws: KafkaError.invalidArgument("offset -1 for \(p0) is negative; give the next offset the group reads")) {
            try admin.resetOffsets(group: group, to: [p0: -1])
        }
        try admin.resetOffsets(group: group, to: [p0: 4, p1: 1])
        #expect(try admin.committedOffsets(group: group, topics: [topic]) == [p0: 4, p1: 1])
        #expect(try admin.lag(group: group, topics: [topic]) == [p0: GroupLag(committed: 4, end: 5), p1: GroupLag(committed: 1, end: 2)])

        let gone = TopicPartition(topic, 7)
        let below = TopicPartition(name("contract-missing"), 0)
        let deleted = try admin.deleteRecords(before: [p0: 3, p1: 9, gone: 0, below: -2])
        #expect(try #require(deleted[p0]).get() == 3, "the new low watermark")
        #expect(failure(deleted[p1])?.errorCode == .offsetOutOfRange, "past the high watermark")
        #expect(failure(deleted[gone])?.errorCode == .unknownTopicOrPartition)
        #expect(failure(deleted[below]) == .invalidArgument("offset -2 for \(below) is below -1 (-1 deletes everything)"))

        #expect(try admin.planReset(group: group, topic: topic, to: .earliest) == [p0: ResetStep(current: 4, target: 3), p1: ResetStep(current: 1, target: 0)])
        #expect(try admin.planReset(group: group, topic: topic, to: .latest) == [p0: ResetStep(current: 4, target: 5), p1: ResetStep(current: 1, target: 2)])
        #expect(try admin.planReset(group: group, topic: topic, to: .offset(1)) == [p0: ResetStep(current: 4, target: 3), p1: ResetStep(current: 1, target: 1)])
        #expect(throws: KafkaError.invalidArgument("offset -3 is negative; give the next offset the group reads")) {
            try admin.planReset(group: group, topic: topic, to: .offset(-3))
        }

        #expect(try admin.listGroups().first { $0.id == group }?.state == .empty)
        let described = try admin.describeGroups([group, stranger])
        #expect(try described[group]?.get().state == .empty)
        #expect(try described[group]?.get().members == [])
        #expect(try described[stranger]?.get().state == .dead, "Kafka describes an unknown group as dead")

        let dropped = try admin.deleteCommittedOffsets(group: group, partitions: [p1, gone])
        try #require(dropped[p1]).get()
        #expect(failure(dropped[gone])?.errorCode == .unknownTopicOrPartition)
        #expect(try admin.committedOffsets(group: group, topics: nil) == [p0: 4])
        #expect(throws: KafkaError.self) { try admin.deleteCommittedOffsets(group: stranger, partitions: [p0]) }

        let groupsDeleted = try admin.deleteGroups([group, stranger])
        try #require(groupsDeleted[group]).get()
        #expect(failure(groupsDeleted[stranger])?.errorCode == .groupIdNotFound)
        #expect(try admin.committedOffsets(group: group, topics: [topic]).isEmpty)
        _ = try admin.deleteTopics([topic])
    }

    /// A group with an active member: described with its partitions; not deleted, reset or
    /// stripped of the offsets it reads until the member leaves.
    func groupWithMember() throws {
        let topic = name("contract-members")
        let group = name("contract-member-group")
        try #require(try admin.createTopics([NewTopic(topic, partitions: 2)])[topic]).get()
        let p0 = TopicPartition(topic, 0)
        let leave = try join(group, topic)

        let described = try #require(try admin.describeGroups([group])[group]).get()
        #expect(described.state == .stable)
        #expect(described.members.count == 1)
        #expect(described.members.flatMap(\.assignment) == [p0, TopicPartition(topic, 1)])
        #expect(try admin.listGroups().first { $0.id == group }?.state == .stable)
        #expect(failure(try admin.deleteGroups([group])[group])?.errorCode == .nonEmptyGroup)
        let refused = #expect(throws: KafkaError.self) { try admin.resetOffsets(group: group, to: [p0: 0]) }
        #expect(refused?.errorCode == .unknownConsumerID, "Kafka's UNKNOWN_MEMBER_ID")
        #expect(failure(try admin.deleteCommittedOffsets(group: group, partitions: [p0])[p0])?.errorCode == .groupSubscribedToTopic)

        leave()
        #expect(try admin.describeGroups([group])[group]?.get().members == [])
        try admin.resetOffsets(group: group, to: [p0: 0])
        try #require(try admin.deleteGroups([group])[group]).get()
        _ = try admin.deleteTopics([topic])
    }
}

/// The error of a failed outcome; nil for a success or no outcome.
func failure<T>(_ outcome: Result<T, KafkaError>?) -> KafkaError? {
    if case .failure(let error)? = outcome { return error }
    return nil
}
