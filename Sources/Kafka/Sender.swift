import KafkaProto
import Synchronization

/// The service producer: hands each record to librdkafka at once and reports its delivery later,
/// through the ``DeliveryReceipt`` every send returns. Made by ``Broker/sender(_:)``.
///
/// For services that produce one record per request from many concurrent tasks: records of all
/// sends are batched by librdkafka (``SenderConf/linger``), nothing waits for its own
/// acknowledgement unless it asks (``DeliveryReceipt/delivered()``), and production is idempotent
/// by default. Placement without an explicit partition: a keyed record by ``SenderConf/keyPlacement``
/// (Java's murmur2 by default), a keyless one sticky per topic. The queue of records in flight is
/// bounded (``SenderConf/maxBufferedMessages``, ``SenderConf/maxBufferedBytes``); a full queue makes a
/// send wait or fail (``SenderConf/whenFull``). The Go-style ``BrokerProducer`` is unchanged.
///
/// Each sender has its own librdkafka handle and its poll thread, which resolves the receipts.
/// ``Broker/flush(timeout:)-4e0sq`` and ``Broker/close()`` cover it, so a `KafkaService` flushes it at shutdown.
public final class Sender: Sendable {
    /// The broker this sender belongs to.
    public let broker: Broker
    /// The configuration it was made with.
    public let conf: SenderConf
    let native: SenderHandle
    private let placements = Mutex<[String: TopicPlacement]>([:])

    /// What the sender knows of one topic: its partition count and where its keyless records go now.
    private struct TopicPlacement {
        var partitions: Int32
        var learned: ContinuousClock.Instant
        var sticky: Int32
        var stickyUntil: ContinuousClock.Instant
        /// Sends since the count's age was last checked: the clock is read once per
        /// ``ageCheckInterval`` sends, not per send.
        var sendsSinceCheck = 0
    }

    private static let ageCheckInterval = 1024

    /// How long a topic's partition count is trusted before it is looked up again (partitions may be added).
    private static let placementLifetime: Duration = .seconds(30)

    init(broker: Broker, conf: SenderConf, native: SenderHandle) {
        self.broker = broker
        self.conf = conf
        self.native = native
        native.reportFailures(to: conf.onFailure)
    }

    // MARK: - Sending

    /// Hands `message` to the producer for `topic` and returns its receipt at once (after waiting
    /// for room when the queue is full and ``SenderConf/whenFull`` says so). The message's own
    /// `topic`, `partition` and `offset` fields are ignored.
    /// - Parameters:
    ///   - message: the record: its key, value and headers.
    ///   - topic: the topic to write to.
    ///   - partition: where to write it; nil (the default) places it as described on ``Sender``.
    /// - Throws, at once and with nothing sent: `KafkaError.invalidArgument(_:)` for an illegal
    ///   topic name or a header name with a NUL byte; `unknownTopicOrPartition` for a topic that does
    ///   not exist or a partition out of its range; `messageSizeTooLarge` for a record over
    ///   `message.max.bytes`; librdkafka's queue-full error with ``SenderConf/WhenFull/fail``;
    ///   `KafkaError.closed` once the sender or its broker closed. Delivery errors come through the receipt.
    @discardableResult
    public func send(_ message: Message, to topic: String, partition: Int32? = nil) throws -> DeliveryReceipt {
        let target = try place(message, topic, partition, partitions: partitionCount(topic))
        let receipt = DeliveryReceipt(topic: topic, partition: target)
        while true {
            let seen = native.handle.queueSpace.generation
            if try native.enqueue(message, topic: topic, partition: target, receipt: receipt) == .accepted { return receipt }
            try checkCanWait(topic, target)
            native.handle.queueSpace.waitBlocking(after: seen)
        }
    }

    /// The `async` twin of ``send(_:to:partition:)``: waits for room (and, the first time a topic
    /// is seen, for its metadata) without holding a thread.
    /// - Throws: as the blocking send; `CancellationError` when the task is cancelled while it
    ///   waits for room (nothing was sent).
    @discardableResult
    public func send(_ message: Message, to topic: String, partition: Int32? = nil) async throws -> DeliveryReceipt {
        let count: Int32 = if let known = knownPartitionCount(topic) { known } else { try await lookUpPartitionCount(topic) }
        let target = try place(message, topic, partition, partitions: count)
        let receipt = DeliveryReceipt(topic: topic, partition: target)
        while true {
            let seen = native.handle.queueSpace.generation
            if try native.enqueue(message, topic: topic, partition: target, receipt: receipt) == .accepted { return receipt }
            try checkCanWait(topic, target)
            try await native.handle.queueSpace.wait(after: seen)
        }
    }

    /// The latest statistics JSON librdkafka emitted for this sender's handle (with
    /// `statistics.interval.ms` in ``SenderConf/properties`` or the broker's), or nil before the first.
    public func latestStatistics() -> String? {
        native.handle.context.statistics.withLock { $0 }
    }

    /// How many deliveries failed since the sender was made (closing's failures included): what
    /// ``SenderConf/onFailure`` was told, counted.
    public var failedDeliveries: Int { native.handle.context.failedDeliveries.load(ordering: .relaxed) }

    /// How many records were handed over and are not yet acknowledged or failed (librdkafka's
    /// queue, delivery reports not yet served included); 0 once closed.
    public var inFlight: Int { native.inFlight }

    /// Waits up to `timeout` until every record sent so far is acknowledged or failed; returns how
    /// many are still in flight when it gives up (0: all settled).
    @discardableResult
    public func flush(timeout: Duration) -> Int {
        native.handle.flush(timeout: timeout)
    }

    /// The `async` twin of ``flush(timeout:)``, run on the library's call pool while the task
    /// waits without holding a thread; a cancelled task stops waiting at once and gets the count
    /// in flight at that moment.
    @discardableResult
    public func flush(timeout: Duration) async -> Int {
        let native = self.native
        do {
            return try await runBlocking { native.handle.flush(timeout: timeout) }
        } catch {
            return native.inFlight
        }
    }

    /// Closes the sender: records not yet acknowledged are dropped and their receipts fail with
    /// `KafkaError.closed` (call ``Sender/flush(timeout:)-5uhp2`` first to deliver them); later sends throw
    /// `KafkaError.closed`. Idempotent; returns once the handle is gone.
    public func close() {
        native.handle.close()
    }

    // MARK: - Placement

    private func checkCanWait(_ topic: String, _ partition: Int32) throws {
        guard conf.whenFull == .wait else {
            throw KafkaError.local(
                code: -184, message: "the sender's queue is full (\(conf.maxBufferedMessages) records or \(conf.maxBufferedBytes) bytes in flight); \(topic)/\(partition) was not sent"
            )
        }
    }

    /// The partition `message` goes to; checks it and the record before anything is sent.
    private func place(_ message: Message, _ topic: String, _ partition: Int32?, partitions: Int32) throws -> Int32 {
        if let problem = recordProblem(message, maxMessageBytes: native.handle.maxMessageBytes, naming: "the record for \(topic)", consequence: "it was not sent") {
            throw problem
        }
        if let partition {
            guard partition >= 0 && partition < partitions else {
                throw KafkaError.broker(.unknownTopicOrPartition, message: "\(topic) has no partition \(partition) (it has \(partitions))")
            }
            return partition
        }
        guard partitions > 0 else {
            throw KafkaError.broker(.unknownTopicOrPartition, message: "\(topic) has no partitions to place a record on")
        }
        if let key = message.key { return conf.keyPlacement.partition(of: key, partitions: partitions) }
        return stickyPartition(topic)
    }

    /// Keyless records of `topic` stay on one random partition for ``SenderConf/stickyWindow``, so
    /// they fill batches (Kafka's sticky partitioner), then move to another.
    private func stickyPartition(_ topic: String) -> Int32 {
        let now = ContinuousClock.now
        return placements.withLock { placements in
            guard var placement = placements[topic] else { return 0 }
            if now >= placement.stickyUntil {
                placement.sticky = Int32.random(in: 0..<max(1, placement.partitions))
                placement.stickyUntil = now + conf.stickyWindow
                placements[topic] = placement
            }
            return placement.sticky
        }
    }

    /// The partition count of `topic` if known and fresh.
    private func knownPartitionCount(_ topic: String) -> Int32? {
        placements.withLock { placements in
            guard var placement = placements[topic] else { return nil }
            placement.sendsSinceCheck += 1
            if placement.sendsSinceCheck >= Self.ageCheckInterval {
                placement.sendsSinceCheck = 0
                if ContinuousClock.now - placement.learned >= Self.placementLifetime { return nil }
            }
            placements[topic] = placement
            return placement.partitions
        }
    }

    /// The partition count of `topic`, looked up (blocking) when not known.
    private func partitionCount(_ topic: String) throws -> Int32 {
        if let known = knownPartitionCount(topic) { return known }
        try validateTopicName(topic)
        return remember(topic, try broker.partitionCount(topic))
    }

    /// The `async` lookup of a partition count not known.
    private func lookUpPartitionCount(_ topic: String) async throws -> Int32 {
        try validateTopicName(topic)
        return remember(topic, try await broker.partitionCount(topic))
    }

    private func remember(_ topic: String, _ partitions: Int32) -> Int32 {
        let now = ContinuousClock.now
        placements.withLock { placements in
            var placement = placements[topic] ?? TopicPlacement(partitions: partitions, learned: now, sticky: 0, stickyUntil: now)
            placement.partitions = partitions
            placement.learned = now
            if placement.sticky >= partitions { placement.stickyUntil = now }
            placements[topic] = placement
        }
        return partitions
    }
}
