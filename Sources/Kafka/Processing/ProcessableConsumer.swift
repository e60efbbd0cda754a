/// What a ``ProcessingLoop`` reads from: a member of a consumer group, made by the loop from a
/// ``GroupConsumerConf`` whose rebalance hooks it wrapped. ``GroupConsumer`` conforms, and so does
/// `KafkaTest`'s `MockGroupConsumer`, so a loop runs on the in-memory tier unchanged.
public protocol ProcessableConsumer: Sendable {
    /// The next messages handed out (at least one); `KafkaError.noData` after the retry limit,
    /// `KafkaError.closed` once closed.
    func consumeBatch() async throws -> [Message]
    /// Commits `offsets` (the next offset to read, per partition).
    func commit(_ offsets: [TopicPartition: Int64]) async throws
    /// Stops handing out messages of `partitions` (they stay assigned).
    func pause(_ partitions: [TopicPartition]) throws
    /// Hands out messages of `partitions` again.
    func resume(_ partitions: [TopicPartition]) throws
    /// Leaves the group.
    func close()
}

extension GroupConsumer: ProcessableConsumer {}
