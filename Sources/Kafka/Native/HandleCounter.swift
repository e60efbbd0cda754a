import Synchronization

/// A topic and partition, as a dictionary or set key.
struct TopicPartitionKey: Hashable, Sendable {
    let topic: String
    let partition: Int32
}

/// Counts live librdkafka handles, so tests can prove that close leaks none.
public enum HandleCounter {
    /// Number of `rd_kafka_t` handles created by this library and not yet destroyed.
    public static var liveHandles: Int { live.load(ordering: .relaxed) }
    static let live = Atomic<Int>(0)
}
