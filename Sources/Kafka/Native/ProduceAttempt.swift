import Crdkafka
import Dispatch
import Synchronization

/// Where one message's delivery report lands. librdkafka carries a pointer to
/// its slot as the message's opaque, so a report finds its message without a
/// per-message allocation: the slots of one attempt are one buffer.
struct DeliverySlot {
    var offset: Int64
    var error: Int32
    let attempt: Unmanaged<ProduceAttempt>
}

/// One attempt of a produce call, from taking the partition's turn to the last delivery
/// report: the one owner of everything the attempt holds (its turn, its delivery slots, its
/// registration with the handle, its waiter).
///
/// Blocking and `async` calls drive the same state machine: ``next(_:)`` does all the work
/// that needs no waiting and says what to wait for; the driver waits its own way (a thread
/// on a condition, a task suspended) and asks again, until ``Next/settled``.
///
/// Enqueuing hands the messages to librdkafka in order, as fast as its queue takes them,
/// one delivery slot each. Every step enters the handle anew, so no handle user is held
/// across a wait and closing is never held up by one; a step that finds the handle closed
/// refuses the messages not yet handed over, and refused messages count as arrived reports.
///
/// Lifetime: the attempt is retained once when it registers with the handle and released when
/// its last report is counted, or by the handle after `rd_kafka_destroy` when reports never will
/// come (see ``retire(_:context:)``).
final class ProduceAttempt: @unchecked Sendable {
    // Safe: the enqueuing state (`phase`, `next`, `refused`) belongs to the one call driving the
    // attempt, which steps it from one thread at a time. A slot is written before `remaining` (an
    // atomic, acquiring and releasing) counts its report, and slots are read only after
    // `remaining` reached zero or after the handle was destroyed. `reports` and `abandoned` are
    // thread-safe themselves.

    /// What the driving call waits for before calling ``next(_:)`` again.
    enum Next {
        /// The partition's turn at enqueuing: take it (``PartitionTurns``), then call ``turnTaken()``.
        case turn
        /// librdkafka's queue is full: wait for a ``QueueSpace`` signal after this generation.
        case room(after: UInt64)
        /// Every message is handed over: wait for the reports (``waitBlocking()`` or ``wait()``).
        case reports
        /// Every report arrived (or the handle closed): read the slots.
        case settled
    }

    private enum Phase { case waitingForTurn, enqueuing, reporting }

    let slots: UnsafeMutablePointer<DeliverySlot>
    let count: Int
    let handle: NativeHandle
    private let key: TopicPartitionKey
    private let rkt: OpaquePointer
    /// The messages of this attempt by slot; nil for all of the call's messages in order.
    private let indices: [Int]?
    /// Plain messages (no headers, no timestamp) go in chunks through `rd_kafka_produce_batch`.
    private let plain: Bool
    private let chunkSize: Int
    private var phase = Phase.waitingForTurn
    /// The slot of the next message to hand over.
    private var next = 0
    private var refused = 0

    /// Reports still to come; counted without a lock: only the last report wakes ``reports``.
    private let remaining: Atomic<Int>
    /// Set at close: the waiter stops waiting for reports.
    private let abandoned = Atomic<Bool>(false)
    /// The driving call waiting for the reports (a thread or a task).
    private let reports = Waiters<Bool>()

    /// Prepares an attempt for `indices` of `messages` (all when nil) and registers it with the handle.
    /// - Throws: `KafkaError.closed` when the handle is closed; the topic handle's error.
    init(handle: NativeHandle, topic: String, partition: Int32, messages: [Message], indices: [Int]?) throws {
        let count = indices?.count ?? messages.count
        self.count = count
        self.handle = handle
        self.key = TopicPartitionKey(topic: topic, partition: partition)
        self.indices = indices
        self.remaining = Atomic(count)
        self.rkt = try handle.withHandle { _ in try handle.topic(topic) }
        self.plain = messages.withUnsafeBufferPointer { messages in
            (0..<count).allSatisfy { slot in
                let index = indices?[slot] ?? slot
                return messages[index].headers.isEmpty && messages[index].timestamp == nil
            }
        }
        self.chunkSize = min(1000, count, max(1, handle.maxQueuedMessages))
        self.slots = .allocate(capacity: count)
        let unmanaged = Unmanaged.passUnretained(self)
        for index in 0..<count {
            (slots + index).initialize(to: DeliverySlot(offset: -1, error: 0, attempt: unmanaged))
        }
        // Retained before it is registered: from then on closing may release it (see `retire`).
        let retained = Unmanaged.passRetained(self)
        do {
            try handle.withHandle { _ in
                // Registered while a user of the handle, so that closing abandons it.
                handle.context.deliveries.withLock { $0[ObjectIdentifier(self)] = self }
            }
        } catch {
            retained.release()
            throw error
        }
    }

    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }

    private var partition: Int32 { key.partition }

    /// Does what needs no waiting and says what to wait for next. `messages` are the call's
    /// messages, the same as at creation; they are not kept, so that the caller's array stays
    /// uniquely referenced and stamping it copies nothing.
    func next(_ messages: [Message]) -> Next {
        switch phase {
        case .waitingForTurn:
            return .turn
        case .enqueuing:
            if next < count {
                let step: Next?
                do {
                    step = try handle.withHandle { rk in plain ? enqueuePlain(rk, messages) : enqueueEach(rk, messages) }
                } catch {
                    refuseRest()
                    step = nil
                }
                if let step { return step }
            }
            endTurn()
            return next(messages)
        case .reporting:
            return isSettled ? .settled : .reports
        }
    }

    /// The driver holds the partition's turn now: enqueuing begins.
    func turnTaken() {
        phase = .enqueuing
    }

    /// Ends the attempt early (a cancelled call): the messages not yet handed over are never
    /// sent and the turn, if held, goes to the next caller. The reports of messages already
    /// handed over still arrive and are recorded; the attempt retires as usual.
    func cancel() {
        guard phase != .reporting else { return }
        refuseRest()
        endTurn()
    }

    /// Gives the turn back (when held) and counts refused messages as arrived reports.
    private func endTurn() {
        if phase == .enqueuing { handle.turns.release(key) }
        phase = .reporting
        if refused > 0, arrived(refused) {
            ProduceAttempt.retire(Unmanaged.passUnretained(self), context: handle.context)
        }
    }

    /// Enqueues chunks of up to 1,000 plain messages with `rd_kafka_produce_batch`: one lock and
    /// one wake-up of the broker thread per chunk. A chunk goes only when the queue has room for
    /// all of it, so that a full queue cannot split a chunk and reorder it. Returns nil once
    /// every message is handed over or refused.
    private func enqueuePlain(_ rk: OpaquePointer, _ messages: [Message]) -> Next? {
        // Locals, not properties: the per-message work then needs no exclusivity checks at run time.
        let chunkSize = self.chunkSize
        let slots = self.slots
        let indices = self.indices
        let partition = self.partition
        let rkt = self.rkt
        return withUnsafeTemporaryAllocation(of: rd_kafka_message_t.self, capacity: chunkSize) { records -> Next? in
            guard let records = records.baseAddress else { return nil }
            while next < count {
                let seen = handle.queueSpace.generation
                // Read after `seen`: closing sets the flag before its last signal, so a wait past `seen` cannot miss it.
                if handle.isClosed {
                    refuseRest()
                    return nil
                }
                let size = min(chunkSize, count - next)
                if Int(rd_kafka_outq_len(rk)) + size > handle.maxQueuedMessages {
                    if makeRoom() { continue }
                    return .room(after: seen)
                }
                let first = next
                // Messages are borrowed through the buffer, never copied (a copy retains and releases
                // every field of a message). Keys and values are gathered into one scratch buffer
                // (on the stack when small), which librdkafka copies from (RD_KAFKA_MSG_F_COPY).
                let enqueued = messages.withUnsafeBufferPointer { messages -> Int in
                    var bytes = 0
                    for slot in first..<first + size {
                        let index = indices?[slot] ?? slot
                        bytes += (messages[index].key?.count ?? 0) + (messages[index].value?.count ?? 0)
                    }
                    return withUnsafeTemporaryAllocation(byteCount: max(1, bytes), alignment: 1) { scratch -> Int in
                        guard let base = scratch.baseAddress else { return 0 }
                        var used = 0
                        for offset in 0..<size {
                            let index = indices?[first + offset] ?? first + offset
                            let value = gather(messages[index].value, into: base, at: &used)
                            let key = gather(messages[index].key, into: base, at: &used)
                            records[offset] = rd_kafka_message_t(
                                err: RD_KAFKA_RESP_ERR_NO_ERROR, rkt: nil, partition: partition,
                                payload: value.pointer, len: value.count, key: key.pointer, key_len: key.count,
                                offset: 0, _private: UnsafeMutableRawPointer(slots + first + offset)
                            )
                        }
                        return Int(rd_kafka_produce_batch(rkt, partition, RD_KAFKA_MSG_F_COPY, records, Int32(size)))
                    }
                }
                if enqueued == size {
                    next += size
                    // Reports already in are served here, between chunks, as raw C callers do: the
                    // messages are then freed on the thread that allocated them.
                    _ = handle.serveMainQueue()
                    continue
                }
                // Keep order: after a full queue retry the failed suffix, refuse every other failure.
                let failed = (0..<size).filter { records[$0].err != RD_KAFKA_RESP_ERR_NO_ERROR }
                if let firstFailed = failed.first, (firstFailed..<size).allSatisfy({ records[$0].err == RD_KAFKA_RESP_ERR__QUEUE_FULL }) {
                    next += firstFailed
                    if makeRoom() { continue }
                    return .room(after: seen)
                }
                for offset in failed {
                    slots[first + offset].error = records[offset].err.rawValue
                    refused += 1
                }
                next += size
            }
            return nil
        }
    }

    /// Enqueues messages with headers or timestamps one by one. Returns nil once every message
    /// is handed over or refused.
    private func enqueueEach(_ rk: OpaquePointer, _ messages: [Message]) -> Next? {
        while next < count {
            let seen = handle.queueSpace.generation
            if handle.isClosed {
                refuseRest()
                return nil
            }
            let index = indices?[next] ?? next
            let code = messages.withUnsafeBufferPointer { enqueueOne(rk, rkt, partition, $0[index], opaque: UnsafeMutableRawPointer(slots + next)) }
            if code == RD_KAFKA_RESP_ERR__QUEUE_FULL {
                if makeRoom() { continue }
                return .room(after: seen)
            }
            if code != RD_KAFKA_RESP_ERR_NO_ERROR {
                slots[next].error = code.rawValue
                refused += 1
            }
            next += 1
        }
        return nil
    }

    /// Serves the delivery reports already waiting, as librdkafka advises when its queue is full,
    /// without waiting for more; returns true when that may have made room. Waiting is left to
    /// the driver.
    ///
    /// Room made here is signalled too (by ``NativeHandle/serveMainQueue()``): the reports served
    /// may have been the last ones, and another call waiting for room would otherwise wait for a
    /// signal that never comes.
    private func makeRoom() -> Bool {
        handle.serveMainQueue()
    }

    /// Marks every message not yet handed over as refused with `PURGE_QUEUE` (never sent).
    private func refuseRest() {
        for slot in next..<count { slots[slot].error = RD_KAFKA_RESP_ERR__PURGE_QUEUE.rawValue }
        refused += count - next
        next = count
    }

    // MARK: Reports

    /// Marks `count` reports as arrived; wakes the waiter after the last.
    /// Returns true when this was the last report.
    func arrived(_ count: Int) -> Bool {
        guard remaining.subtract(count, ordering: .acquiringAndReleasing).newValue == 0 else { return false }
        reports.resumeAll(with: true)
        return true
    }

    /// Wakes the waiter early, at close; reports that arrive later are still recorded safely.
    func abandon() {
        abandoned.store(true, ordering: .releasing)
        reports.resumeAll(with: true)
    }

    var isAbandoned: Bool { abandoned.load(ordering: .acquiring) }

    /// True once every report arrived or the attempt was abandoned.
    var isSettled: Bool { remaining.load(ordering: .acquiring) == 0 || isAbandoned }

    /// Blocks the calling thread until every report arrived or the attempt was abandoned.
    func waitBlocking() {
        guard !isSettled else { return }
        _ = try? reports.waitBlocking(timeout: nil, onTimeout: false) { isSettled ? true : nil }
    }

    /// Suspends until every report arrived or the attempt was abandoned.
    /// - Throws: `CancellationError` as soon as the waiting task is cancelled (unless the attempt
    ///   settled first); the reports still arrive and are recorded, and the attempt is retired as usual.
    func wait() async throws {
        guard !isSettled else { return }
        do {
            _ = try await reports.wait(timeout: nil, onTimeout: false) { isSettled ? true : nil }
        } catch is CancellationError where isSettled {
            return
        }
    }

    /// Forgets an attempt whose last report arrived: drops it from the handle's registry and
    /// releases the retain taken when it registered.
    ///
    /// Whoever removes an attempt from the registry owns that retain: here, or the handle's
    /// close, which releases the attempts still registered after `rd_kafka_destroy`. An attempt
    /// that close already released (its last messages were refused after the handle closed) is
    /// not released again.
    static func retire(_ attempt: Unmanaged<ProduceAttempt>, context: HandleContext?) {
        guard let context else {
            attempt.release()
            return
        }
        let removed = context.deliveries.withLock { $0.removeValue(forKey: ObjectIdentifier(attempt.takeUnretainedValue())) }
        if removed != nil { attempt.release() }
    }
}

/// Copies `bytes` into `base` at `used` and advances `used`; NULL for `nil`, a non-NULL
/// pointer for an empty array (librdkafka tells an empty key or value from an absent one).
@inline(__always)
private func gather(_ bytes: [UInt8]?, into base: UnsafeMutableRawPointer, at used: inout Int) -> (pointer: UnsafeMutableRawPointer?, count: Int) {
    guard let bytes else { return (nil, 0) }
    let pointer = base + used
    bytes.withUnsafeBytes { source in
        if let address = source.baseAddress { pointer.copyMemory(from: address, byteCount: source.count) }
    }
    used += bytes.count
    return (pointer, bytes.count)
}

/// An address librdkafka may copy zero bytes from: it tells an empty key or
/// value (a non-NULL pointer) from an absent one (NULL).
private nonisolated(unsafe) let emptyBytes = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)
// nonisolated(unsafe): the byte is allocated once and never written or freed; librdkafka only reads 0 bytes from it.

/// Enqueues one message with `opaque` as its delivery report's opaque (a ``DeliverySlot`` of a
/// produce call, a ``DeliveryReceipt`` of a ``Sender``, or nil for a record sent without one). The plain path uses `rd_kafka_produce`,
/// which needs no allocation; messages with headers or a timestamp go through `rd_kafka_produceva`.
func enqueueOne(
    _ rk: OpaquePointer, _ rkt: OpaquePointer, _ partition: Int32, _ message: Message, opaque: UnsafeMutableRawPointer?
) -> rd_kafka_resp_err_t {
    withOptionalBytes(message.key) { key, keyCount in
        withOptionalBytes(message.value) { value, valueCount in
            if message.headers.isEmpty && message.timestamp == nil {
                let status = rd_kafka_produce(rkt, partition, RD_KAFKA_MSG_F_COPY, value, valueCount, key, keyCount, opaque)
                return status == 0 ? RD_KAFKA_RESP_ERR_NO_ERROR : rd_kafka_last_error()
            }
            return produceWithHeaders(rk, rkt, partition, message, key: (key, keyCount), value: (value, valueCount), opaque: opaque)
        }
    }
}

private func produceWithHeaders(
    _ rk: OpaquePointer, _ rkt: OpaquePointer, _ partition: Int32, _ message: Message,
    key: (UnsafeMutableRawPointer?, Int), value: (UnsafeMutableRawPointer?, Int), opaque: UnsafeMutableRawPointer?
) -> rd_kafka_resp_err_t {
    var fields: [rd_kafka_vu_t] = []
    fields.reserveCapacity(7)
    func field(_ type: rd_kafka_vtype_t, _ fill: (inout rd_kafka_vu_t) -> Void) {
        var entry = rd_kafka_vu_t()
        entry.vtype = type
        fill(&entry)
        fields.append(entry)
    }
    field(RD_KAFKA_VTYPE_RKT) { $0.u.rkt = rkt }
    field(RD_KAFKA_VTYPE_PARTITION) { $0.u.i32 = partition }
    field(RD_KAFKA_VTYPE_MSGFLAGS) { $0.u.i = RD_KAFKA_MSG_F_COPY }
    field(RD_KAFKA_VTYPE_VALUE) { $0.u.mem.ptr = value.0; $0.u.mem.size = value.1 }
    field(RD_KAFKA_VTYPE_KEY) { $0.u.mem.ptr = key.0; $0.u.mem.size = key.1 }
    field(RD_KAFKA_VTYPE_OPAQUE) { $0.u.ptr = opaque }
    if let timestamp = message.timestamp {
        field(RD_KAFKA_VTYPE_TIMESTAMP) { $0.u.i64 = timestamp }
    }
    guard let headers = rd_kafka_headers_new(message.headers.count) else { return RD_KAFKA_RESP_ERR__NOENT }
    for header in message.headers {
        let added = withOptionalBytes(header.value) { bytes, count in
            rd_kafka_header_add(headers, header.key, -1, bytes, bytes == nil ? 0 : count)
        }
        if added != RD_KAFKA_RESP_ERR_NO_ERROR {
            rd_kafka_headers_destroy(headers)
            return added
        }
    }
    field(RD_KAFKA_VTYPE_HEADERS) { $0.u.headers = headers }
    guard let error = rd_kafka_produceva(rk, fields, fields.count) else {
        return RD_KAFKA_RESP_ERR_NO_ERROR  // librdkafka owns the headers now
    }
    let code = rd_kafka_error_code(error)
    rd_kafka_error_destroy(error)
    rd_kafka_headers_destroy(headers)
    return code
}

/// Calls `body` with a pointer and count for `bytes`: NULL for `nil`, a valid
/// non-NULL pointer for an empty array.
func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeMutableRawPointer?, Int) -> R) -> R {
    guard let bytes else { return body(nil, 0) }
    if bytes.isEmpty { return body(emptyBytes, 0) }
    return bytes.withUnsafeBytes { body(UnsafeMutableRawPointer(mutating: $0.baseAddress), $0.count) }
}
