import Foundation

/// Settings of a single-partition consumer, with Go's `NewConsumerConf` defaults
/// (and `maxFetchSize` from Go's v1 documentation).
public struct ConsumerConf: Sendable {
    /// The topic to read.
    public var topic: String
    /// The partition to read.
    public var partition: Int32
    /// How long one call waits for data before the wait counts as an empty fetch (Go's retry
    /// window). It counts only when the partition is caught up: a fetch of it came back and left
    /// nothing unread, so `KafkaError.noData` never hides data. A message that arrives ends the
    /// wait at once. Default 50 ms.
    public var requestTimeout: Duration = .milliseconds(50)
    /// How long a broker may hold a fetch that found nothing new before answering (the long-poll,
    /// librdkafka `fetch.wait.max.ms`). Kafka answers as soon as data arrives; this bounds the
    /// latency only on brokers that do not, and it delays other partitions joining a shared
    /// handle's fetch. Default nil: the smaller of ``requestTimeout`` and 100 ms.
    public var fetchWait: Duration? = nil
    /// Empty fetches allowed before `consume` throws `KafkaError.noData`:
    /// one call makes `retryLimit + 1` empty fetches, each followed by
    /// `retryWait`, then throws (Go's count). -1, the default, waits for data
    /// until the consumer is closed. Values below -1 are rejected.
    public var retryLimit: Int = -1
    /// Wait after each empty fetch. Default 50 ms.
    public var retryWait: Duration = .milliseconds(50)
    /// Attempts made when fetching fails with a transient error, before the
    /// error is thrown. Default 10; must be at least 1.
    public var retryErrLimit: Int = 10
    /// Wait between those attempts. Default 500 ms.
    public var retryErrWait: Duration = .milliseconds(500)
    /// Minimum bytes a fetch waits for (librdkafka `fetch.min.bytes`). Default 1.
    public var minFetchSize: Int32 = 1
    /// Maximum bytes of one fetch (librdkafka `fetch.max.bytes` and
    /// `max.partition.fetch.bytes`). Default 2,000,000.
    public var maxFetchSize: Int32 = 2_000_000
    /// Where reading starts; resolved to a number when the consumer is
    /// created, as Go does. Default `StartOffset.oldest`.
    public var startOffset: StartOffset = .oldest
    /// When set, reading starts at the first message written at or after this time (by the
    /// message timestamp), or at the end when none is that recent, instead of at `startOffset`;
    /// resolved when the consumer is created (the partition consumer's `seek(to:)`). Default nil.
    public var startTime: Date?
    /// Whether consumed messages carry their headers. Default true. A record
    /// without headers costs nothing extra either way (the consumer sees the
    /// zero header count itself); a record with headers costs librdkafka's
    /// parse, two allocations, plus a copy of each header. Consumers that never
    /// look at headers can set this to false and get messages with empty `headers`.
    public var readsHeaders = true
    /// Which messages of transactional producers are read. Default ``IsolationLevel/readCommitted``
    /// (librdkafka's default): messages of aborted transactions are skipped, and reading stops
    /// before a transaction still open. Consumers of different isolation use different handles.
    public var isolation: IsolationLevel = .readCommitted
    /// Receives this consumer's log lines; `nil` (the default) uses the broker's logger.
    public var logger: (any KafkaLogger)? = nil
    /// Raw librdkafka properties for this consumer's handle, applied after the broker's. Default empty.
    public var properties: [String: String] = [:]

    /// Creates a configuration for `topic` and `partition` with Go's defaults.
    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    func validate() throws(KafkaError) {
        try validateTopicName(topic)
        try validatePartition(partition)
        guard retryLimit >= -1 else {
            throw .invalidConfiguration("ConsumerConf.retryLimit is \(retryLimit); use -1 for no limit or a count of 0 or more")
        }
        try requireAtLeastOne(retryErrLimit, "ConsumerConf.retryErrLimit")
        try requirePositive(requestTimeout, "ConsumerConf.requestTimeout")
        if let fetchWait { try requirePositive(fetchWait, "ConsumerConf.fetchWait") }
        try requireNotNegative(retryWait, "ConsumerConf.retryWait")
        try requireNotNegative(retryErrWait, "ConsumerConf.retryErrWait")
        guard minFetchSize >= 1 else {
            throw .invalidConfiguration("ConsumerConf.minFetchSize is \(minFetchSize); it must be at least 1")
        }
        guard maxFetchSize >= 1024 else {
            throw .invalidConfiguration("ConsumerConf.maxFetchSize is \(maxFetchSize); it must be at least 1024")
        }
        if case .offset(let value) = startOffset, value < 0 {
            throw .invalidConfiguration("invalid start offset: \(value); use .oldest, .newest or an offset of 0 or more")
        }
    }
}

/// Settings of an offset coordinator, with Go's `NewOffsetCoordinatorConf` defaults.
public struct OffsetCoordinatorConf: Sendable {
    /// The consumer group whose offsets are committed and read.
    public var consumerGroup: String
    /// Attempts made when a commit or offset read fails with a transient error. Default 10; must be at least 1.
    public var retryErrLimit: Int = 10
    /// Wait between those attempts. Default 500 ms.
    public var retryErrWait: Duration = .milliseconds(500)
    /// How long one commit or offset read may take. Default 10 s.
    public var requestTimeout: Duration = .seconds(10)
    /// Receives this coordinator's log lines; `nil` (the default) uses the broker's logger.
    public var logger: (any KafkaLogger)? = nil
    /// Raw librdkafka properties for this coordinator's handle. Default empty.
    public var properties: [String: String] = [:]

    /// Creates a configuration for `consumerGroup` with Go's defaults.
    public init(consumerGroup: String) {
        self.consumerGroup = consumerGroup
    }

    func validate() throws(KafkaError) {
        guard !consumerGroup.isEmpty else {
            throw .invalidConfiguration("OffsetCoordinatorConf.consumerGroup is empty; name the consumer group")
        }
        try requireAtLeastOne(retryErrLimit, "OffsetCoordinatorConf.retryErrLimit")
        try requireNotNegative(retryErrWait, "OffsetCoordinatorConf.retryErrWait")
        try requirePositive(requestTimeout, "OffsetCoordinatorConf.requestTimeout")
    }
}

/// librdkafka's `fetch.wait.max.ms` for a consumer: `fetchWait`, or the smaller of `requestTimeout` and 100 ms.
func fetchWaitMilliseconds(_ fetchWait: Duration?, requestTimeout: Duration) -> Int32 {
    max(1, (fetchWait ?? min(requestTimeout, .milliseconds(100))).milliseconds)
}
