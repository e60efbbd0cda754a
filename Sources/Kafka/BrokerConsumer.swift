import Crdkafka
import Synchronization

/// A consumer of one partition bound to a ``Broker``: Go's `broker.Consumer(conf)`.
///
/// Each consumer owns a librdkafka consumer handle (no consumer group)
/// reading its partition from the start offset resolved at creation. Fetched
/// messages arrive in batches of up to 1,000 and are handed out one at a time
/// from a local buffer, in partition order, with no gaps or repeats.
public final class BrokerConsumer: BatchConsumer, AsyncSequence, @unchecked Sendable {
    // Safe: `buffer`, `deferredError` and `stickyError` are only
    // touched with `fetchLock` held; the librdkafka pointers are owned by
    // `handle`, which frees them after its last user left.
    public typealias Element = Message
    public typealias AsyncIterator = Iterator

    /// The configuration the consumer was created with.
    public let conf: ConsumerConf
    /// The first offset this consumer reads, resolved from `conf.startOffset` at creation.
    public let startOffset: Int64
    let broker: Broker
    let handle: NativeHandle
    private let queue: OpaquePointer
    private let logger: any KafkaLogger
    /// Held while a call takes from the buffer or fetches; a `Mutex`, whose uncontended
    /// lock and unlock are inlined atomics, since every message handed out takes it.
    private let fetchLock = Mutex(())
    private static let batchCapacity = 1000
    /// Where one fetch's messages land; allocated last in `init`, so a failed init leaks nothing.
    private let fetched: UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>
    private let buffer = FetchBuffer(capacity: BrokerConsumer.batchCapacity)
    private var deferredError: KafkaError?
    private var stickyError: KafkaError?

    init(broker: Broker, conf: ConsumerConf) throws {
        try conf.validate()
        try broker.requirePartition(conf.topic, conf.partition)
        let start: Int64 = switch conf.startOffset {
        case .oldest: try broker.offsetEarliest(conf.topic, partition: conf.partition)
        case .newest: try broker.offsetLatest(conf.topic, partition: conf.partition)
        case .offset(let value): value
        }
        let logger = conf.logger ?? broker.conf.logger
        let properties = Broker.baseProperties(broker.addresses, broker.conf) + [
            ("fetch.wait.max.ms", "\(Swift.max(1, conf.requestTimeout.milliseconds))"),
            ("fetch.min.bytes", "\(conf.minFetchSize)"),
            ("fetch.max.bytes", "\(conf.maxFetchSize)"),
            ("max.partition.fetch.bytes", "\(conf.maxFetchSize)"),
            ("message.max.bytes", "\(Swift.min(1_000_000, conf.maxFetchSize))"),
            ("auto.offset.reset", "error"),
            ("enable.partition.eof", "false"),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
        ] + conf.properties.keys.sorted().map { ($0, conf.properties[$0] ?? "") }
        let handle = try NativeHandle(kind: .consumer, properties: properties, logger: logger, name: "consumer", polled: false)
        try broker.adopt(handle)
        let queue: OpaquePointer = try handle.withHandle { rk in
            let rkt = try handle.topic(conf.topic)
            guard let queue = rd_kafka_queue_new(rk) else { throw KafkaError.local(code: -1, message: "cannot create a queue") }
            guard rd_kafka_consume_start_queue(rkt, conf.partition, start, queue) == 0 else {
                let error = KafkaError(rd_kafka_last_error())
                rd_kafka_queue_destroy(queue)
                throw error
            }
            handle.beforeDestroy { _ in
                rd_kafka_consume_stop(rkt, conf.partition)
                rd_kafka_queue_destroy(queue)
            }
            return queue
        }
        handle.onClose { rd_kafka_queue_yield(queue) }
        self.broker = broker
        self.conf = conf
        self.startOffset = start
        self.handle = handle
        self.queue = queue
        self.logger = logger
        self.fetched = .allocate(capacity: Self.batchCapacity)
    }

    deinit {
        handle.close()
        fetched.deallocate()
    }

    /// Returns the next message of the partition.
    ///
    /// From the local buffer when it holds one; otherwise fetches. An empty
    /// fetch (nothing within `conf.requestTimeout`) is followed by
    /// `conf.retryWait`; after `conf.retryLimit + 1` empty fetches the call
    /// throws ``KafkaError/noData`` (never with `retryLimit` -1). A fetch error is
    /// retried `conf.retryErrLimit` attempts, `conf.retryErrWait` apart.
    ///
    /// - Throws: ``KafkaError/noData``; ``KafkaError/closed`` promptly once the consumer or
    ///   its broker is closed, even while blocked; `offsetOutOfRange` (on this and every later
    ///   call, as Go) when the start offset lies outside the log; the last fetch error.
    public func consume() throws -> Message {
        try fetchLock.withLock { _ in
            if buffer.isEmpty { try fill() }
            return buffer.takeNext()
        }
    }

    /// The `async` twin of ``consume()``. A buffered message is returned without
    /// suspending; a fetch waits on a thread outside the cooperative pool.
    nonisolated(nonsending) public func consume() async throws -> Message {
        if let message = takeBufferedWithoutWaiting() { return message }
        return try await runBlocking { try self.consume() }
    }

    /// Returns what ``consume()`` had buffered, or else the messages of one fetch.
    /// Same retry, ``KafkaError/noData`` and close rules as ``consume()``.
    public func consumeBatch() throws -> [Message] {
        try fetchLock.withLock { _ in
            if buffer.isEmpty { try fill() }
            return buffer.takeAll()
        }
    }

    /// The `async` twin of ``consumeBatch()``.
    nonisolated(nonsending) public func consumeBatch() async throws -> [Message] {
        try await runBlocking { try self.consumeBatch() }
    }

    /// Iterates with the `async` ``consume()``; ends at ``KafkaError/noData``, throws every other error.
    public func makeAsyncIterator() -> Iterator {
        Iterator(self)
    }

    /// Closes this consumer's handle; blocked and later calls throw ``KafkaError/closed``. Idempotent.
    public func close() {
        handle.close()
    }

    /// The next buffered message, or nil when the buffer is empty or another call holds it.
    @usableFromInline
    func takeBufferedWithoutWaiting() -> Message? {
        fetchLock.withLockIfAvailable { _ in buffer.isEmpty ? nil : buffer.takeNext() } ?? nil
    }

    private enum FetchOutcome {
        case messages
        case empty
        case failure(KafkaError)
    }

    /// Refills the buffer, applying Go's retry rules. Called with `fetchLock` held.
    private func fill() throws {
        if let stickyError { throw stickyError }
        let clock = broker.conf.clock
        var emptyFetches = 0
        var failedAttempts = 0
        while true {
            let outcome: FetchOutcome
            if let error = deferredError {
                deferredError = nil
                outcome = .failure(error)
            } else {
                outcome = try fetchOnce()
            }
            switch outcome {
            case .messages:
                return
            case .empty:
                emptyFetches += 1
                clock.sleep(for: conf.retryWait)
                if handle.isClosed { throw KafkaError.closed }
                if conf.retryLimit != -1 && emptyFetches > conf.retryLimit { throw KafkaError.noData }
            case .failure(let error):
                if error.errorCode == .offsetOutOfRange {
                    stickyError = error
                    throw error
                }
                failedAttempts += 1
                logger.debug("fetch failed", [("topic", conf.topic), ("attempt", "\(failedAttempts)"), ("error", error.description)])
                if failedAttempts >= conf.retryErrLimit { throw error }
                clock.sleep(for: conf.retryErrWait)
                if handle.isClosed { throw KafkaError.closed }
            }
        }
    }

    /// One fetch: waits up to `requestTimeout` for a batch from librdkafka's queue.
    private func fetchOnce() throws -> FetchOutcome {
        try handle.withHandle { rk in
            let count = rd_kafka_consume_batch_queue(queue, Int32(conf.requestTimeout.milliseconds), fetched, Self.batchCapacity)
            rd_kafka_poll(rk, 0)  // serve errors and statistics of this handle's main queue
            if handle.isClosed {
                for index in 0..<Swift.max(0, count) { rd_kafka_message_destroy(fetched[index]) }
                throw KafkaError.closed
            }
            guard count >= 0 else { return .failure(KafkaError(rd_kafka_last_error())) }
            guard count > 0 else { return .empty }
            var low: Int64 = -1
            var high: Int64 = -1
            _ = rd_kafka_get_watermark_offsets(rk, conf.topic, conf.partition, &low, &high)
            buffer.reset()
            var firstError: KafkaError?
            // Read once per fetch, not once per message.
            let topic = conf.topic
            let readsHeaders = conf.readsHeaders
            for index in 0..<count {
                guard let pointer = fetched[index] else { continue }
                defer { rd_kafka_message_destroy(pointer) }
                if pointer.pointee.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                    if firstError == nil { firstError = consumeError(pointer) }
                    continue
                }
                buffer.append(pointer, topic: topic, readsHeaders: readsHeaders, tipOffset: high)
            }
            if let firstError {
                if buffer.isEmpty { return .failure(firstError) }
                deferredError = firstError
            }
            return buffer.isEmpty ? .empty : .messages
        }
    }

    private func consumeError(_ pointer: UnsafeMutablePointer<rd_kafka_message_t>) -> KafkaError {
        let code = pointer.pointee.err
        let detail = rd_kafka_message_errstr(pointer).map { String(cString: $0) }
        if code == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET || code == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE {
            return .broker(
                .offsetOutOfRange,
                message: "offset \(startOffset) or the current position of \(conf.topic)/\(conf.partition) is outside the log: \(detail ?? "")"
            )
        }
        return KafkaError(code, detail: detail)
    }
}
