import Crdkafka

/// One attempt of a produce call: hands its messages to librdkafka in order,
/// as fast as librdkafka's queue takes them, one delivery slot each.
///
/// ``step(_:)`` enqueues until the queue is full and then reports the
/// ``QueueSpace`` generation to wait past; the caller waits (a blocking call
/// on a condition, an `async` one suspended) and steps again. Every step
/// enters the handle anew, so no handle user is held across a wait and
/// closing is never held up by one.
/// A step that finds the handle closed refuses the messages not yet handed
/// over; ``finish()`` counts refused messages as arrived reports.
final class ProduceAttempt {
    enum Step {
        /// Every message was handed over or refused.
        case done
        /// librdkafka's queue is full: wait for a signal after this generation, then step again.
        case needsRoom(after: UInt64)
    }

    let batch: DeliveryBatch
    private let handle: NativeHandle
    private let retained: Unmanaged<DeliveryBatch>
    private let rkt: OpaquePointer
    private let partition: Int32
    /// The messages of this attempt by slot; nil for all of them in order.
    private let indices: [Int]?
    /// Plain messages (no headers, no timestamp) go in chunks through `rd_kafka_produce_batch`.
    private let plain: Bool
    private let chunkSize: Int
    /// The slot of the next message to hand over.
    private var next = 0
    private var refused = 0

    /// Registers a batch of delivery slots for `indices` of `messages` (all when nil).
    /// - Throws: ``KafkaError/closed`` when the handle is closed; the topic handle's error.
    init(handle: NativeHandle, topic: String, partition: Int32, messages: [Message], indices: [Int]?) throws {
        let count = indices?.count ?? messages.count
        let batch = DeliveryBatch(count: count)
        // Retained before it is registered: from then on closing may release it (see `DeliveryBatch.retire`).
        let retained = Unmanaged.passRetained(batch)
        do {
            self.rkt = try handle.withHandle { _ in
                let rkt = try handle.topic(topic)
                // Registered while a user of the handle, so that closing abandons it.
                handle.context.deliveries.withLock { $0[ObjectIdentifier(batch)] = batch }
                return rkt
            }
        } catch {
            retained.release()
            throw error
        }
        self.batch = batch
        self.retained = retained
        self.handle = handle
        self.partition = partition
        self.indices = indices
        self.plain = messages.withUnsafeBufferPointer { messages in
            (0..<count).allSatisfy { slot in
                let index = indices?[slot] ?? slot
                return messages[index].headers.isEmpty && messages[index].timestamp == nil
            }
        }
        self.chunkSize = min(1000, count, max(1, handle.maxQueuedMessages))
    }

    /// Hands over messages until all are enqueued (or refused) or librdkafka's queue is full.
    /// `messages` are the call's messages, the same as at creation; they are not kept, so that
    /// the caller's array stays uniquely referenced and stamping it copies nothing.
    func step(_ messages: [Message]) -> Step {
        let count = batch.count
        guard next < count else { return .done }
        do {
            return try handle.withHandle { rk in plain ? stepPlain(rk, count, messages) : stepEach(rk, count, messages) }
        } catch {
            return refuseRest(RD_KAFKA_RESP_ERR__PURGE_QUEUE)
        }
    }

    /// Counts refused messages as arrived reports and returns the batch to wait for.
    func finish() -> DeliveryBatch {
        if refused > 0, batch.arrived(refused) {
            DeliveryBatch.retire(retained, context: handle.context)
        }
        return batch
    }

    /// Enqueues chunks of up to 1,000 plain messages with `rd_kafka_produce_batch`: one lock and
    /// one wake-up of the broker thread per chunk. A chunk goes only when the queue has room for
    /// all of it, so that a full queue cannot split a chunk and reorder it.
    private func stepPlain(_ rk: OpaquePointer, _ count: Int, _ messages: [Message]) -> Step {
        // Locals, not properties: the per-message work then needs no exclusivity checks at run time.
        var records = [rd_kafka_message_t](repeating: rd_kafka_message_t(), count: chunkSize)
        var scratch = ScratchBuffer()
        let slots = batch.slots
        let indices = self.indices
        while next < count {
            let seen = handle.queueSpace.generation
            // Read after `seen`: closing sets the flag before its last signal, so a wait past `seen` cannot miss it.
            if handle.isClosed { return refuseRest(RD_KAFKA_RESP_ERR__PURGE_QUEUE) }
            let size = min(chunkSize, count - next)
            if Int(rd_kafka_outq_len(rk)) + size > handle.maxQueuedMessages {
                if makeRoom(rk) { continue }
                return .needsRoom(after: seen)
            }
            let first = next
            // Messages are borrowed through the buffer, never copied (a copy retains and releases
            // every field of a message).
            messages.withUnsafeBufferPointer { messages in
                var bytes = 0
                for slot in first..<first + size {
                    let index = indices?[slot] ?? slot
                    bytes += (messages[index].key?.count ?? 0) + (messages[index].value?.count ?? 0)
                }
                scratch.reserve(bytes)
                for offset in 0..<size {
                    let index = indices?[first + offset] ?? first + offset
                    let value = scratch.append(messages[index].value)
                    let key = scratch.append(messages[index].key)
                    records[offset] = rd_kafka_message_t(
                        err: RD_KAFKA_RESP_ERR_NO_ERROR, rkt: nil, partition: partition,
                        payload: value.pointer, len: value.count, key: key.pointer, key_len: key.count,
                        offset: 0, _private: UnsafeMutableRawPointer(slots + first + offset)
                    )
                }
            }
            let enqueued = records.withUnsafeMutableBufferPointer { buffer in
                buffer.baseAddress.map { Int(rd_kafka_produce_batch(rkt, partition, RD_KAFKA_MSG_F_COPY, $0, Int32(size))) } ?? 0
            }
            scratch.reset()
            if enqueued == size {
                next += size
                if handle.serveMainQueue() { handle.queueSpace.signal() }
                continue
            }
            // Keep order: after a full queue retry the failed suffix, refuse every other failure.
            let failed = (0..<size).filter { records[$0].err != RD_KAFKA_RESP_ERR_NO_ERROR }
            if let firstFailed = failed.first, (firstFailed..<size).allSatisfy({ records[$0].err == RD_KAFKA_RESP_ERR__QUEUE_FULL }) {
                next += firstFailed
                if makeRoom(rk) { continue }
                return .needsRoom(after: seen)
            }
            for offset in failed {
                slots[first + offset].error = records[offset].err.rawValue
                refused += 1
            }
            next += size
        }
        return .done
    }

    /// Enqueues messages with headers or timestamps one by one.
    private func stepEach(_ rk: OpaquePointer, _ count: Int, _ messages: [Message]) -> Step {
        while next < count {
            let seen = handle.queueSpace.generation
            if handle.isClosed { return refuseRest(RD_KAFKA_RESP_ERR__PURGE_QUEUE) }
            let code = enqueueOne(rk, rkt, partition, messages[indices?[next] ?? next], opaque: batch.slots + next)
            if code == RD_KAFKA_RESP_ERR__QUEUE_FULL {
                if makeRoom(rk) { continue }
                return .needsRoom(after: seen)
            }
            if code != RD_KAFKA_RESP_ERR_NO_ERROR {
                batch.slots[next].error = code.rawValue
                refused += 1
            }
            next += 1
        }
        return .done
    }

    /// Serves the delivery reports already waiting, as librdkafka advises when its queue is full,
    /// without waiting for more; returns true when that may have made room. Waiting is left to
    /// the caller and the poll thread's signal: measured, a blocking call that instead polled in
    /// 1 ms steps, competing with the poll thread, produced 10-15% slower.
    ///
    /// Room made here is signalled too: the reports served may have been the last ones, and
    /// another call waiting for room would otherwise wait for a signal that never comes.
    private func makeRoom(_ rk: OpaquePointer) -> Bool {
        guard handle.serveMainQueue() else { return false }
        handle.queueSpace.signal()
        return true
    }

    /// Refuses every message not yet handed over (a cancelled call); returns how many were handed over.
    func refuseAll() -> Int {
        let handedOver = next
        _ = refuseRest(RD_KAFKA_RESP_ERR__PURGE_QUEUE)
        return handedOver
    }

    /// Marks every message not yet handed over as refused with `code`.
    private func refuseRest(_ code: rd_kafka_resp_err_t) -> Step {
        for slot in next..<batch.count { batch.slots[slot].error = code.rawValue }
        refused += batch.count - next
        next = batch.count
        return .done
    }
}

/// An address librdkafka may copy zero bytes from: it tells an empty key or
/// value (a non-NULL pointer) from an absent one (NULL).
private nonisolated(unsafe) let emptyBytes = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)
// nonisolated(unsafe): the byte is allocated once and never written or freed; librdkafka only reads 0 bytes from it.

/// Holds copies of keys and values for one `rd_kafka_produce_batch` call.
private struct ScratchBuffer: ~Copyable {
    private var base = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)
    private var capacity = 1
    private var used = 0

    deinit { base.deallocate() }

    /// Makes room for `bytes` bytes; pointers handed out before stay valid only until the next `reserve`.
    mutating func reserve(_ bytes: Int) {
        guard bytes + 1 > capacity else { return }
        base.deallocate()
        capacity = bytes + 1
        base = .allocate(byteCount: capacity, alignment: 1)
        used = 0
    }

    /// Copies `bytes` in; NULL for `nil`, a non-NULL pointer for an empty array.
    mutating func append(_ bytes: [UInt8]?) -> (pointer: UnsafeMutableRawPointer?, count: Int) {
        guard let bytes else { return (nil, 0) }
        let pointer = base + used
        bytes.withUnsafeBytes { source in
            if let address = source.baseAddress { pointer.copyMemory(from: address, byteCount: source.count) }
        }
        used += bytes.count
        return (pointer, bytes.count)
    }

    mutating func reset() { used = 0 }
}

/// Enqueues one message. The plain path uses `rd_kafka_produce`, which needs
/// no allocation; messages with headers or a timestamp go through `rd_kafka_produceva`.
private func enqueueOne(
    _ rk: OpaquePointer, _ rkt: OpaquePointer, _ partition: Int32, _ message: Message, opaque: UnsafeMutablePointer<DeliverySlot>
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
    key: (UnsafeMutableRawPointer?, Int), value: (UnsafeMutableRawPointer?, Int), opaque: UnsafeMutablePointer<DeliverySlot>
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
    field(RD_KAFKA_VTYPE_OPAQUE) { $0.u.ptr = UnsafeMutableRawPointer(opaque) }
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
