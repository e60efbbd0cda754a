/// Commits and reads one consumer group's offsets: Go's `broker.OffsetCoordinator(conf)`.
///
/// Backed by a librdkafka consumer handle with `group.id` set that never
/// joins the group, so commits are "simple consumer" commits that any member
/// of the group, kafka-python or Kafka's tools can read back.
public final class BrokerOffsetCoordinator: OffsetCoordinator {
    /// The configuration the coordinator was created with.
    public let conf: OffsetCoordinatorConf
    let broker: Broker
    let handle: NativeHandle
    private let logger: any KafkaLogger

    init(broker: Broker, conf: OffsetCoordinatorConf) throws {
        try conf.validate()
        try broker.checkOpen()
        let properties = Broker.baseProperties(broker.addresses, broker.conf) + [
            ("group.id", conf.consumerGroup),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
        ] + conf.properties.keys.sorted().map { ($0, conf.properties[$0] ?? "") }
        let logger = conf.logger ?? broker.conf.logger
        handle = try NativeHandle(kind: .consumer, properties: properties, logger: logger, name: "coordinator", polled: true,
            tokenProvider: broker.conf.tokenProvider
        )
        try broker.adopt(handle)
        self.broker = broker
        self.conf = conf
        self.logger = logger
    }

    deinit {
        handle.close()
    }

    /// Commits `offset` (the next offset to read, by Kafka convention) and
    /// `metadata` for `topic`/`partition` in the group.
    ///
    /// Transient errors (coordinator moving or loading) are retried
    /// `conf.retryErrLimit` attempts, `conf.retryErrWait` apart.
    /// - Throws: `KafkaError.invalidArgument(_:)` for a negative offset or bad topic/partition;
    ///   `unknownTopicOrPartition`; the broker's error; `KafkaError.closed`.
    public func commit(_ topic: String, partition: Int32, offset: Int64, metadata: String) throws {
        guard offset >= 0 else { throw KafkaError.invalidArgument("offset \(offset) is negative; commit the next offset to read (0 or more)") }
        try broker.requirePartition(topic, partition)
        try retrying("commit", topic) {
            try handle.commitOffset(topic, partition, offset: offset, metadata: metadata)
        }
    }

    /// The `async` twin of ``commit(_:partition:offset:metadata:)``.
    public func commit(_ topic: String, partition: Int32, offset: Int64, metadata: String) async throws {
        try await runBlocking { try self.commit(topic, partition: partition, offset: offset, metadata: metadata) }
    }

    /// The group's committed offset and metadata for `topic`/`partition`;
    /// `(-1, "")` when it never committed one (librdkafka's "invalid offset",
    /// mapped to what Go reports against a modern Kafka).
    /// - Throws: `unknownTopicOrPartition`; the broker's error after retries; `KafkaError.closed`.
    public func offset(_ topic: String, partition: Int32) throws -> (offset: Int64, metadata: String) {
        try broker.requirePartition(topic, partition)
        var result: (offset: Int64, metadata: String) = (-1, "")
        try retrying("offset", topic) {
            result = try handle.committedOffset(topic, partition, timeout: conf.requestTimeout)
        }
        return result
    }

    /// The `async` twin of ``offset(_:partition:)``.
    public func offset(_ topic: String, partition: Int32) async throws -> (offset: Int64, metadata: String) {
        try await runBlocking { try self.offset(topic, partition: partition) }
    }

    /// Closes the coordinator's handle; later calls throw `KafkaError.closed`. Idempotent.
    public func close() {
        handle.close()
    }

    private func retrying(_ operation: String, _ topic: String, _ attempt: () throws -> Void) throws {
        var lastError = KafkaError.closed
        for number in 1...conf.retryErrLimit {
            if number > 1 { broker.conf.clock.sleep(for: conf.retryErrWait) }
            do {
                return try attempt()
            } catch let error as KafkaError {
                guard error.isTransient, error != .closed else { throw error }
                lastError = error
                logger.debug("\(operation) failed", [("group", conf.consumerGroup), ("topic", topic), ("attempt", "\(number)"), ("error", error.description)])
            }
        }
        throw lastError
    }
}
