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
            var refused = 0
            for (slot, index) in indices.enumerated() {
                var code = handle.isClosed
                    ? RD_KAFKA_RESP_ERR__PURGE_QUEUE
                    : enqueueOne(rk, rkt, partition, messages[index], opaque: batch.slots + slot)
                while code == RD_KAFKA_RESP_ERR__QUEUE_FULL && !handle.isClosed {
                    // librdkafka's queue is full: let deliveries drain it, then try again.
                    rd_kafka_poll(rk, 10)
                    code = enqueueOne(rk, rkt, partition, messages[index], opaque: batch.slots + slot)
                }
                if code != RD_KAFKA_RESP_ERR_NO_ERROR {
                    batch.slots[slot].error = code.rawValue
                    refused += 1
                }
            }
            if refused > 0, batch.arrived(refused) {
                DeliveryBatch.retire(retained, context: handle.context)
            }
        }
        return batch
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
