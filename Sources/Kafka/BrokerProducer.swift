import Crdkafka

/// A producer bound to a ``Broker``: Go's `broker.Producer(conf)`.
///
/// One call's messages go to librdkafka in order, to one partition, and the
/// call returns when every delivery report arrived. Delivery reports come
/// back through the handle's poll thread; a blocking call waits on a
/// semaphore, an `async` call suspends on a continuation.
public final class BrokerProducer: Producer {
    /// The broker this producer belongs to.
    public let broker: Broker
    /// The configuration the producer was created with.
    public let conf: ProducerConf
    let handle: NativeHandle
    private let logger: any KafkaLogger

    init(broker: Broker, conf: ProducerConf, handle: NativeHandle) {
        self.broker = broker
        self.conf = conf
        self.handle = handle
        self.logger = conf.logger ?? broker.conf.logger
    }

    /// Writes `messages` to `topic`/`partition` and blocks until the broker acknowledged them.
    ///
    /// Makes up to `conf.retryLimit` attempts, `conf.retryWait` apart; an
    /// attempt re-sends only the messages that failed with a transient
    /// error, so after a partial failure they land after the ones that
    /// succeeded. Every message is checked before any is sent, so a bad
    /// message means nothing is written. With ``RequiredAcks/none`` the
    /// offsets are unknown and reported as -1.
    ///
    /// - Throws: ``KafkaError/invalidArgument(_:)`` for an empty list, a bad topic name or a
    ///   negative partition; `unknownTopicOrPartition` for a partition that does not exist;
    ///   `messageSizeTooLarge` for a message over librdkafka's `message.max.bytes`;
    ///   ``KafkaError/closed`` when the broker is or gets closed; otherwise the last
    ///   delivery error once a permanent error occurs or the attempts run out.
    @discardableResult
    public func produce(_ topic: String, partition: Int32, messages: inout [Message]) throws -> Int64 {
        try prepare(topic, partition, messages)
        var pending = Array(messages.indices)
        var offsets = [Int64](repeating: -1, count: messages.count)
        var lastError = KafkaError.closed
        for attempt in 1...conf.retryLimit {
            if attempt > 1 { broker.conf.clock.sleep(for: conf.retryWait) }
            let batch = try enqueue(topic, partition, messages, pending)
            batch.waitBlocking()
            switch try settle(batch, pending, &offsets) {
            case .delivered: return stamp(&messages, topic, partition, offsets)
            case .retry(let failed, let error):
                pending = failed
                lastError = error
                logger.debug("produce attempt failed", [("topic", topic), ("attempt", "\(attempt)"), ("error", error.description)])
            }
        }
        throw lastError
    }

    /// The `async` twin of ``produce(_:partition:messages:)-(_,_,inout [Message])``: suspends
    /// until acknowledged and never blocks a thread (waits and retry sleeps included).
    @discardableResult
    public func produce(_ topic: String, partition: Int32, messages: inout [Message]) async throws -> Int64 {
        try prepare(topic, partition, messages)
        var pending = Array(messages.indices)
        var offsets = [Int64](repeating: -1, count: messages.count)
        var lastError = KafkaError.closed
        for attempt in 1...conf.retryLimit {
            if attempt > 1 { try await broker.conf.clock.sleep(for: conf.retryWait) }
            let batch = try enqueue(topic, partition, messages, pending)
            await batch.wait()
            switch try settle(batch, pending, &offsets) {
            case .delivered: return stamp(&messages, topic, partition, offsets)
            case .retry(let failed, let error):
                pending = failed
                lastError = error
                logger.debug("produce attempt failed", [("topic", topic), ("attempt", "\(attempt)"), ("error", error.description)])
            }
        }
        throw lastError
    }

    /// Checks everything that can be checked before a byte is sent.
    private func prepare(_ topic: String, _ partition: Int32, _ messages: [Message]) throws {
        try validateTopicName(topic)
        try validatePartition(partition)
        guard !messages.isEmpty else {
            throw KafkaError.invalidArgument("no messages to produce to \(topic)/\(partition)")
        }
        for (index, message) in messages.enumerated() {
            let size = (message.key?.count ?? 0) + (message.value?.count ?? 0)
                + message.headers.reduce(0) { $0 + $1.key.utf8.count + ($1.value?.count ?? 0) }
            if size > handle.maxMessageBytes {
                throw KafkaError.broker(
                    .messageSizeTooLarge,
                    message: "message \(index) is \(size) bytes; the producer's message.max.bytes is \(handle.maxMessageBytes); nothing was sent"
                )
            }
        }
        try broker.requirePartition(topic, partition)
    }

    /// Hands the messages at `indices` to librdkafka, one delivery slot each.
    private func enqueue(_ topic: String, _ partition: Int32, _ messages: [Message], _ indices: [Int]) throws -> DeliveryBatch {
        let batch = DeliveryBatch(count: indices.count)
        try handle.withHandle { rk in
            let rkt = try handle.topic(topic)
            let retained = Unmanaged.passRetained(batch)
            handle.context.deliveries.withLock { $0[ObjectIdentifier(batch)] = batch }
            let plain = indices.allSatisfy { messages[$0].headers.isEmpty && messages[$0].timestamp == nil }
            let refused = plain
                ? enqueuePlain(rk, rkt, partition, messages, indices, batch)
                : enqueueEach(rk, rkt, partition, messages, indices, batch)
            if refused > 0, batch.arrived(refused) {
                DeliveryBatch.retire(retained, context: handle.context)
            }
        }
        return batch
    }

    /// Enqueues messages with headers or timestamps one by one; returns how many librdkafka refused.
    private func enqueueEach(
        _ rk: OpaquePointer, _ rkt: OpaquePointer, _ partition: Int32, _ messages: [Message], _ indices: [Int], _ batch: DeliveryBatch
    ) -> Int {
        var refused = 0
        for (slot, index) in indices.enumerated() {
            var code = handle.isClosed
                ? RD_KAFKA_RESP_ERR__PURGE_QUEUE
                : enqueueOne(rk, rkt, partition, messages[index], opaque: batch.slots + slot)
            while code == RD_KAFKA_RESP_ERR__QUEUE_FULL && !handle.isClosed {
                // librdkafka's queue is full: let deliveries drain it, then try again.
                rd_kafka_poll(rk, 1)
                code = enqueueOne(rk, rkt, partition, messages[index], opaque: batch.slots + slot)
            }
            if code != RD_KAFKA_RESP_ERR_NO_ERROR {
                batch.slots[slot].error = code.rawValue
                refused += 1
            }
        }
        return refused
    }

    /// Enqueues plain messages (no headers, no timestamp) with `rd_kafka_produce_batch`, up to
    /// 1,000 at a time: one lock and one wake-up of the broker thread per chunk, so a call's
    /// messages travel together. Keys and values are copied into one scratch buffer per chunk
    /// (librdkafka copies them again). Waits for room in librdkafka's queue before each chunk,
    /// so that a full queue cannot split a chunk and reorder it. Returns how many were refused.
    private func enqueuePlain(
        _ rk: OpaquePointer, _ rkt: OpaquePointer, _ partition: Int32, _ messages: [Message], _ indices: [Int], _ batch: DeliveryBatch
    ) -> Int {
        let chunkSize = min(1000, indices.count, max(1, handle.maxQueuedMessages))
        var records = [rd_kafka_message_t](repeating: rd_kafka_message_t(), count: chunkSize)
        var scratch = ScratchBuffer()
        var refused = 0
        var start = 0
        while start < indices.count {
            let end = min(start + chunkSize, indices.count)
            if handle.isClosed {
                for slot in start..<indices.count { batch.slots[slot].error = RD_KAFKA_RESP_ERR__PURGE_QUEUE.rawValue }
                return refused + indices.count - start
            }
            while Int(rd_kafka_outq_len(rk)) + (end - start) > handle.maxQueuedMessages && !handle.isClosed {
                // The poll thread usually takes the reports first, so wait in short steps.
                rd_kafka_poll(rk, 1)
            }
            scratch.reserve(indices[start..<end].reduce(0) { $0 + (messages[$1].key?.count ?? 0) + (messages[$1].value?.count ?? 0) })
            for slot in start..<end {
                let message = messages[indices[slot]]
                let value = scratch.append(message.value)
                let key = scratch.append(message.key)
                records[slot - start] = rd_kafka_message_t(
                    err: RD_KAFKA_RESP_ERR_NO_ERROR, rkt: nil, partition: partition,
                    payload: value.pointer, len: value.count, key: key.pointer, key_len: key.count,
                    offset: 0, _private: UnsafeMutableRawPointer(batch.slots + slot)
                )
            }
            var first = 0
            let count = end - start
            while first < count {
                let enqueued = records.withUnsafeMutableBufferPointer { buffer in
                    Int(rd_kafka_produce_batch(rkt, partition, RD_KAFKA_MSG_F_COPY, buffer.baseAddress! + first, Int32(count - first)))
                }
                if enqueued == count - first { break }
                // Keep order: retry the failed suffix after a full queue, refuse everything else.
                let failed = (first..<count).filter { records[$0].err != RD_KAFKA_RESP_ERR_NO_ERROR }
                let retryable = failed.first.map { firstFailed in
                    (firstFailed..<count).allSatisfy { records[$0].err == RD_KAFKA_RESP_ERR__QUEUE_FULL }
                } ?? false
                if retryable && !handle.isClosed, let firstFailed = failed.first {
                    rd_kafka_poll(rk, 1)
                    for index in firstFailed..<count { records[index].err = RD_KAFKA_RESP_ERR_NO_ERROR }
                    first = firstFailed
                    continue
                }
                for index in failed {
                    batch.slots[start + index].error = records[index].err.rawValue
                    refused += 1
                }
                break
            }
            scratch.reset()
            start = end
        }
        return refused
    }

    private enum Settlement {
        case delivered
        case retry([Int], KafkaError)
    }

    /// Reads a finished batch: records offsets, decides between success, retry and failure.
    private func settle(_ batch: DeliveryBatch, _ indices: [Int], _ offsets: inout [Int64]) throws -> Settlement {
        if batch.isAbandoned || handle.isClosed { throw KafkaError.closed }
        var failed: [Int] = []
        var firstError: KafkaError?
        for (slot, index) in indices.enumerated() {
            let result = batch.slots[slot]
            if result.error == 0 {
                offsets[index] = conf.requiredAcks == .none ? -1 : result.offset
            } else {
                failed.append(index)
                if firstError == nil { firstError = KafkaError(rd_kafka_resp_err_t(result.error)) }
            }
        }
        guard let error = firstError else { return .delivered }
        if case .local(let code, _) = error,
            code == RD_KAFKA_RESP_ERR__PURGE_QUEUE.rawValue || code == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT.rawValue
        {
            throw KafkaError.closed
        }
        guard error.isTransient else { throw error }
        return .retry(failed, error)
    }

    private func stamp(_ messages: inout [Message], _ topic: String, _ partition: Int32, _ offsets: [Int64]) -> Int64 {
        for index in messages.indices {
            messages[index].topic = topic
            messages[index].partition = partition
            messages[index].offset = offsets[index]
        }
        return offsets[0]
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
