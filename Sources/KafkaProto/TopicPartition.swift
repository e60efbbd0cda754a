/// A partition of a topic: what a consumer group assigns, commits and seeks by.
public struct TopicPartition: Hashable, Sendable, CustomStringConvertible, Comparable {
    /// The topic's name.
    public var topic: String
    /// The partition number, 0 or more.
    public var partition: Int32

    /// Names `partition` of `topic`.
    public init(_ topic: String, _ partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    /// "topic/partition".
    public var description: String { "\(topic)/\(partition)" }

    /// Orders by topic, then partition.
    public static func < (lhs: TopicPartition, rhs: TopicPartition) -> Bool {
        (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
    }
}
