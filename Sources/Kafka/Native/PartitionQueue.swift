import Crdkafka
import KafkaProto
import Synchronization

/// One partition read through its own librdkafka queue on a consumer handle that
/// other partitions may share (librdkafka's legacy per-partition consumer).
///
/// Owns the queue and the partition's fetch state on the handle: ``close()`` stops
/// only this partition. The queue is freed exactly once, by ``close()`` or, when the
/// handle closes first, by the handle's destroy hook, after every fetch left.
final class PartitionQueue: @unchecked Sendable {
    // Safe: `lifecycle` and the hook numbers are guarded by `gate`; `closed` mirrors "not open"
    // (set under `gate`, read without it by every message handed out); the queue is used only by
    // fetches counted in `lifecycle`, and freed only when there are none.
    let handle: NativeHandle
    let topic: String
    let partition: Int32
    private let rkt: OpaquePointer
    private let queue: OpaquePointer
    private let gate = PlainLock()
    /// Woken when the last fetch leaves the queue (``close()`` waits for that).
    private let usersGone = Waiters<Bool>()
    /// Who may fetch, and whether the queue still exists.
    private var lifecycle = QueueLifecycle()
    /// Set once by ``close()`` or the handle's destroy hook: `lifecycle` is no longer open.
    private let closed = Atomic<Bool>(false)
    private var wakeHook: Int?
    private var destroyHook: Int?
    /// Where one fetch's messages land; only the fetch holding the consumer's lock writes it.
    private let fetched: UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>
    /// Wakes `async` fetches when the queue gets something; registered with librdkafka.
    let signal: QueueSignal
    /// Views of one borrowed fetch; only the fetch holding the consumer's lock writes it.
    private let borrowed = UnsafeMutablePointer<BorrowedMessage>.allocate(capacity: PartitionQueue.batchCapacity)
    /// The most messages one fetch takes from the queue.
    static let batchCapacity = 1000

    /// Starts reading `topic`/`partition` at `start` on `handle`, which the caller claimed the partition on.
    /// - Throws: librdkafka's error for the start; `KafkaError.closed`.
    init(handle: NativeHandle, topic: String, partition: Int32, start: Int64) throws {
        let (rkt, queue): (OpaquePointer, OpaquePointer) = try handle.withHandle { rk in
            let rkt = try handle.topic(topic)
            guard let queue = rd_kafka_queue_new(rk) else { throw KafkaError.local(code: -1, message: "cannot create a queue") }
            guard rd_kafka_consume_start_queue(rkt, partition, start, queue) == 0 else {
                let error = KafkaError(rd_kafka_last_error())
                rd_kafka_queue_destroy(queue)
                throw error
            }
            return (rkt, queue)
        }
        self.handle = handle
        self.topic = topic
        self.partition = partition
        self.rkt = rkt
        self.queue = queue
        self.fetched = .allocate(capacity: Self.batchCapacity)
        self.signal = QueueSignal(queue: queue)
        // Strong captures: the hooks keep this queue alive until ``close()`` removes them or the
        // handle's close runs them, so the queue is always freed before the handle is destroyed.
        let wakeHook = handle.onCloseRemovable { self.wake() }
        let destroyHook = handle.beforeDestroy { _ in self.free() }
        gate.withLock {
            self.wakeHook = wakeHook
            self.destroyHook = destroyHook
        }
    }

    deinit {
        fetched.deallocate()
        borrowed.deallocate()
    }

    /// Stops the partition and frees its queue; a blocked fetch returns with `KafkaError.closed`.
    /// Idempotent; returns once no fetch is using the queue.
    func close() {
        let first: Bool = gate.withLock {
            closed.store(true, ordering: .releasing)
            return lifecycle.beginClose()
        }
        guard first else { return }
        wake()
        _ = try? usersGone.waitBlocking(timeout: nil, onTimeout: false) { gate.withLock { lifecycle.users == 0 } ? true : nil }
        // While a user of the handle it cannot be destroyed under us; once it is closing, its
        // destroy hook frees the queue instead, so that hook stays registered (removing it here
        // leaked the queue when a consumer was released while its broker closed: LeakSanitizer).
        let freedHere = (try? handle.withHandle { _ in free() }) != nil
        let (wakeHook, destroyHook) = gate.withLock { (self.wakeHook, self.destroyHook) }
        handle.removeCloseHook(wakeHook)
        if freedHere, let destroyHook { handle.removeDestroyHook(destroyHook) }
    }

    /// Whether this queue or its handle is closed.
    var isClosed: Bool { handle.isClosed || closed.load(ordering: .acquiring) }

    /// Wakes a fetch blocked on the queue.
    private func wake() {
        gate.withLock { if !lifecycle.isFreed { rd_kafka_queue_yield(queue) } }
        signal.close()
    }

    /// Whether the queue holds something to read (messages or errors).
    func hasMessages() -> Bool {
        gate.withLock { !lifecycle.isFreed && rd_kafka_queue_length(queue) > 0 }
    }

    /// Whether a fetch of this partition completed and left nothing unread: librdkafka knows the
    /// partition's high watermark (it learns it from each fetch response, so an unknown one means
    /// no fetch of this partition came back yet, e.g. while another partition's long-poll holds
    /// the shared connection) and the consumer's position (`start` before its first message) is
    /// at or past it. An empty wait counts as Go's empty fetch only then, so `KafkaError.noData`
    /// is never reported while the partition holds unread data. False once closed.
    func isCaughtUp(from start: Int64) -> Bool {
        (try? using { rk -> Bool in
            var low: Int64 = -1
            var high: Int64 = -1
            guard rd_kafka_get_watermark_offsets(rk, topic, partition, &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0 else {
                return false
            }
            guard let list = rd_kafka_topic_partition_list_new(1) else { return false }
            defer { rd_kafka_topic_partition_list_destroy(list) }
            rd_kafka_topic_partition_list_add(list, topic, partition)
            _ = rd_kafka_position(rk, list)
            let position = list.pointee.elems.map { $0.pointee.offset } ?? -1
            return (position >= 0 ? position : start) >= high
        }) ?? false
    }

    /// Stops fetching the partition and frees the queue, once; only when no fetch uses it.
    private func free() {
        let mustFree: Bool = gate.withLock {
            closed.store(true, ordering: .releasing)
            return lifecycle.free()
        }
        guard mustFree else { return }
        signal.detach()
        rd_kafka_consume_stop(rkt, partition)
        rd_kafka_queue_destroy(queue)
        handle.release(topic, partition)
    }

    /// Runs `body` with the live handle as one of this queue's users, whom ``close()`` waits for
    /// before the queue is freed. Throws `KafkaError.closed` once this queue or its handle closed.
    private func using<R>(_ body: (OpaquePointer) throws -> R) throws -> R {
        try gate.withLock {
            guard lifecycle.enter() else { throw KafkaError.closed }
        }
        defer {
            if gate.withLock({ lifecycle.leave() }) { usersGone.resumeAll(with: true) }
        }
        return try handle.withHandle(body)
    }

    /// What one fetch brought.
    enum FetchOutcome {
        /// At least one message was appended to the buffer; `deferred` is an error that came with them.
        case messages(deferred: KafkaError?)
        /// Nothing arrived within the timeout.
        case empty
        /// Only an error arrived.
        case failure(KafkaError)
    }

    /// Waits up to `timeout` for messages and appends them to `buffer` (which must be empty).
    /// - Parameter startOffset: named in the error for a start outside the log.
    /// - Throws: `KafkaError.closed` once this queue or its handle closed.
    func fetch(timeout: Duration, into buffer: FetchBuffer, readsHeaders: Bool, startOffset: Int64) throws -> FetchOutcome {
        try using { rk in
            let count = QueueDrain.takeAfterFirst(from: queue, timeout: timeout, into: fetched, capacity: Self.batchCapacity)
            if isClosed {
                for index in 0..<Swift.max(0, count) { rd_kafka_message_destroy(fetched[index]) }
                throw KafkaError.closed
            }
            guard count >= 0 else { return .failure(KafkaError(rd_kafka_last_error())) }
            guard count > 0 else { return .empty }
            var low: Int64 = -1
            var high: Int64 = -1
            _ = rd_kafka_get_watermark_offsets(rk, topic, partition, &low, &high)
            buffer.reset()
            var firstError: KafkaError?
            for index in 0..<count {
                guard let pointer = fetched[index] else { continue }
                defer { rd_kafka_message_destroy(pointer) }
                if pointer.pointee.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                    if firstError == nil { firstError = consumeError(pointer, startOffset: startOffset) }
                    continue
                }
                buffer.append(pointer, topic: topic, readsHeaders: readsHeaders, tipOffset: high)
            }
            if buffer.isEmpty { return firstError.map { .failure($0) } ?? .empty }
            return .messages(deferred: firstError)
        }
    }

    /// What a borrowing fetch brought.
    enum BorrowedOutcome<R> {
        /// `body` ran over at least one message; `deferred` is an error that came with them.
        case delivered(R, deferred: KafkaError?)
        case empty
        case failure(KafkaError)
    }

    /// Waits up to `timeout` for messages and runs `body` over views of them, then frees them:
    /// no copy and no allocation per message.
    func fetchBorrowed<R>(timeout: Duration, startOffset: Int64, _ body: (BorrowedBatch) throws -> R) throws -> BorrowedOutcome<R> {
        try using { _ in
            let count = QueueDrain.takeAfterFirst(from: queue, timeout: timeout, into: fetched, capacity: Self.batchCapacity)
            defer { for index in 0..<Swift.max(0, count) { rd_kafka_message_destroy(fetched[index]) } }
            if isClosed { throw KafkaError.closed }
            guard count >= 0 else { return .failure(KafkaError(rd_kafka_last_error())) }
            guard count > 0 else { return .empty }
            var views = 0
            var firstError: KafkaError?
            for index in 0..<count {
                guard let pointer = fetched[index] else { continue }
                let raw = pointer.pointee
                if raw.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                    if firstError == nil { firstError = consumeError(pointer, startOffset: startOffset) }
                    continue
                }
                (borrowed + views).initialize(to: BorrowedMessage(viewing: pointer))
                views += 1
            }
            guard views > 0 else { return firstError.map { .failure($0) } ?? .empty }
            defer { borrowed.deinitialize(count: views) }
            let result = try body(BorrowedBatch(topic: topic, messages: UnsafeBufferPointer(start: borrowed, count: views)))
            return .delivered(result, deferred: firstError)
        }
    }

    private func consumeError(_ pointer: UnsafeMutablePointer<rd_kafka_message_t>, startOffset: Int64) -> KafkaError {
        let code = pointer.pointee.err
        let detail = rd_kafka_message_errstr(pointer).map { String(cString: $0) }
        if code == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET || code == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE {
            return .broker(
                .offsetOutOfRange,
                message: "offset \(startOffset) or the current position of \(topic)/\(partition) is outside the log"
            )
        }
        return KafkaError(code, detail: detail)
    }
}
