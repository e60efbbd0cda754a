/// What a transaction needs to know of the consumer group whose offsets it commits: the group,
/// and, from a member, its generation and member id, so that the coordinator refuses the offsets
/// of a member the group has moved on from (a zombie). Made by ``GroupConsumer/groupMetadata()``
/// or, for a group this process is not a member of, by ``init(group:)``.
public struct ConsumerGroupMetadata: Sendable, Hashable {
    /// The consumer group's id.
    public let group: String
    /// librdkafka's serialized form (`rd_kafka_consumer_group_metadata_write`), empty for a
    /// metadata made from the group id alone.
    let serialized: [UInt8]

    /// The metadata of `group` without a member: the coordinator then checks no generation, so
    /// nothing fences a process that lost its partitions. Prefer ``GroupConsumer/groupMetadata()``.
    public init(group: String) {
        self.group = group
        self.serialized = []
    }

    init(group: String, serialized: [UInt8]) {
        self.group = group
        self.serialized = serialized
    }
}
