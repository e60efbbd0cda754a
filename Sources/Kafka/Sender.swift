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
    private let routes = SenderRoutes()

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
        let (target, rkt) = try place(message, topic, partition)
        let receipt = DeliveryReceipt(topic: topic, partition: target)
        try handOver(message, rkt, topic, target, receipt)
        return receipt
    }

    /// The `async` twin of ``send(_:to:partition:)``: waits for room (and, the first time a topic
    /// is seen, for its metadata) without holding a thread.
    /// - Throws: as the blocking send; `CancellationError` when the task is cancelled while it
    ///   waits for room (nothing was sent).
    @discardableResult
    public func send(_ message: Message, to topic: String, partition: Int32? = nil) async throws -> DeliveryReceipt {
        let (target, rkt) = try await place(message, topic, partition)
        let receipt = DeliveryReceipt(topic: topic, partition: target)
        try await handOver(message, rkt, topic, target, receipt)
        return receipt
    }

    /// Hands `message` over like ``send(_:to:partition:)``, without a receipt: the cheapest way to
    /// produce, for records whose delivery nobody awaits. A failed delivery still counts in
    /// ``failedDeliveries`` and reaches ``SenderConf/onFailure`` (or the log) with its topic and
    /// partition; ``flush(timeout:)-5uhp2`` waits for it like for any other.
    /// - Throws: as ``send(_:to:partition:)``, at once and with nothing sent.
    public func sendAndForget(_ message: Message, to topic: String, partition: Int32? = nil) throws {
        let (target, rkt) = try place(message, topic, partition)
        try handOver(message, rkt, topic, target, nil)
    }

    /// The `async` twin of the blocking `sendAndForget(_:to:partition:)`: waits for room without holding a thread.
    /// - Throws: as the blocking call; `CancellationError` when the task is cancelled while it
    ///   waits for room (nothing was sent).
    public func sendAndForget(_ message: Message, to topic: String, partition: Int32? = nil) async throws {
        let (target, rkt) = try await place(message, topic, partition)
        try await handOver(message, rkt, topic, target, nil)
    }

    /// Enqueues the record through `rkt`, waiting for room (blocking) when the queue is full and
    /// the conf says so. Inlined into each send, as the `async` twin is.
    @inline(__always)
    private func handOver(_ message: Message, _ rkt: OpaquePointer, _ topic: String, _ partition: Int32, _ receipt: DeliveryReceipt?) throws {
        while true {
            let seen = native.handle.queueSpace.generation
            if try native.enqueue(message, topicHandle: rkt, topic: topic, partition: partition, receipt: receipt) == .accepted { return }
            try checkCanWait(topic, partition)
            native.handle.queueSpace.waitBlocking(after: seen)
        }
    }

    /// ``handOver(_:_:_:_:_:)`` waiting for room without holding a thread. Inlined, so that a
    /// record accepted at once (the usual case) costs no `async` call.
    @inline(__always)
    private func handOver(_ message: Message, _ rkt: OpaquePointer, _ topic: String, _ partition: Int32, _ receipt: DeliveryReceipt?) async throws {
        if try native.enqueue(message, topicHandle: rkt, topic: topic, partition: partition, receipt: receipt) == .accepted { return }
        try await handOverWaitingForRoom(message, rkt, topic, partition, receipt)
    }

    /// An `async` hand-over once the queue was full: tries again, then waits for room between tries.
    private func handOverWaitingForRoom(
        _ message: Message, _ rkt: OpaquePointer, _ topic: String, _ partition: Int32, _ receipt: DeliveryReceipt?
    ) async throws {
        while true {
            let seen = native.handle.queueSpace.generation
            if try native.enqueue(message, topicHandle: rkt, topic: topic, partition: partition, receipt: receipt) == .accepted { return }
            try checkCanWait(topic, partition)
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

    /// Where `message` goes and the topic handle to send it through; the partition count, when
    /// not known, is looked up (blocking). Inlined into each send, as the `async` twin is.
    @inline(__always)
    private func place(_ message: Message, _ topic: String, _ partition: Int32?) throws -> (Int32, OpaquePointer) {
        let route = try route(topic, keyless: partition == nil && message.key == nil)
        let target = try place(message, topic, partition, route: route)
        return (target, try route.topicHandle ?? topicHandle(topic))
    }

    /// The `async` twin of the blocking placement: the partition count, when not known, is looked
    /// up without holding a thread. Inlined, so that a known route costs no `async` call.
    @inline(__always)
    private func place(_ message: Message, _ topic: String, _ partition: Int32?) async throws -> (Int32, OpaquePointer) {
        let keyless = partition == nil && message.key == nil
        let route = if let known = routes.route(topic, keyless: keyless, stickyWindow: conf.stickyWindow) {
            known
        } else {
            try await lookUpRoute(topic, keyless: keyless)
        }
        let target = try place(message, topic, partition, route: route)
        return (target, try route.topicHandle ?? topicHandle(topic))
    }

    /// The partition `message` goes to; checks it and the record before anything is sent.
    private func place(_ message: Message, _ topic: String, _ partition: Int32?, route: SenderRoute) throws -> Int32 {
        let partitions = route.partitions
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
        return route.sticky
    }

    /// Where records for `topic` may go (see ``SenderRoutes``); the partition count is looked up,
    /// blocking, when not known or too old.
    private func route(_ topic: String, keyless: Bool) throws -> SenderRoute {
        if let known = routes.route(topic, keyless: keyless, stickyWindow: conf.stickyWindow) { return known }
        try validateTopicName(topic)
        return remember(topic, try broker.partitionCount(topic), keyless: keyless)
    }

    /// The `async` lookup of a route not known.
    private func lookUpRoute(_ topic: String, keyless: Bool) async throws -> SenderRoute {
        try validateTopicName(topic)
        return remember(topic, try await broker.partitionCount(topic), keyless: keyless)
    }

    private func remember(_ topic: String, _ partitions: Int32, keyless: Bool) -> SenderRoute {
        routes.remember(topic, partitions: partitions)
        return routes.route(topic, keyless: keyless, stickyWindow: conf.stickyWindow) ?? SenderRoute(partitions: partitions, sticky: 0, topicHandleAddress: 0)
    }

    /// The topic handle for `topic` (whose route is known), made on its first send and kept in
    /// its route.
    private func topicHandle(_ topic: String) throws -> OpaquePointer {
        let rkt = try native.topicHandle(topic)
        routes.remember(topic, topicHandle: rkt)
        return rkt
    }
}
