import Crdkafka
import KafkaProto

/// The C side of a ``Sender``: its own producer handle, whose delivery reports resolve
/// ``DeliveryReceipt``s (served by the handle's poll thread), and the enqueue of one record.
final class SenderHandle: Sendable {
    let handle: NativeHandle

    init(
        properties: [(String, String)], logger: any KafkaLogger,
        tokenProvider: (@Sendable () throws -> SASLConfiguration.OAuthBearerToken)?
    ) throws(KafkaError) {
        handle = try NativeHandle(
            kind: .producer, properties: properties, logger: logger, name: "sender", polled: true, tokenProvider: tokenProvider,
            receipts: true
        )
    }

    /// What an enqueue did.
    enum Enqueued {
        case accepted
        /// librdkafka's queue is full: nothing was enqueued and the receipt is not registered.
        case full
    }

    /// The sender's topic handle for `topic`, made on first use. It stays valid until the handle's
    /// teardown, which waits for every call inside ``enqueue(_:topicHandle:topic:partition:receipt:)``.
    /// - Throws: `KafkaError.closed` once closing began; librdkafka's error for a topic handle it refuses.
    func topicHandle(_ topic: String) throws -> OpaquePointer {
        try handle.withHandle { _ in try handle.topic(topic) }
    }

    /// Hands `message` to librdkafka for `topic`/`partition` through `rkt` (from
    /// ``topicHandle(_:)``). librdkafka holds the receipt, if any (one strong reference, as the
    /// message's opaque), until its delivery report resolves it; closing purges the records in
    /// flight and serves their reports (see ``NativeHandle``'s teardown), so every accepted
    /// receipt is resolved exactly once. Enters the handle through its lock-free door.
    /// - Throws: librdkafka's error for a refused record; `KafkaError.closed` once closing began.
    func enqueue(_ message: Message, topicHandle rkt: OpaquePointer, topic: String, partition: Int32, receipt: DeliveryReceipt?) throws -> Enqueued {
        guard handle.enterQuickly() else { throw KafkaError.closed }
        defer { handle.leaveQuickly() }
        let rk = handle.rk
        let held = receipt.map { Unmanaged.passRetained($0) }
        let code = enqueueOne(rk, rkt, partition, message, opaque: held?.toOpaque())
        guard code != RD_KAFKA_RESP_ERR_NO_ERROR else {
            handle.serveEventsInline(rk)
            return .accepted
        }
        held?.release()
        if code == RD_KAFKA_RESP_ERR__QUEUE_FULL { return .full }
        throw KafkaError(code, detail: "cannot send to \(topic)/\(partition)")
    }

    /// Records handed over and not yet reported on (librdkafka's `rd_kafka_outq_len`); 0 once closed.
    var inFlight: Int {
        (try? handle.withHandle { rk in Int(rd_kafka_outq_len(rk)) }) ?? 0
    }

    /// Tells failures of deliveries to `handler` (nil: the log).
    func reportFailures(to handler: (@Sendable (DeliveryFailure) -> Void)?) {
        handle.context.deliveryFailures.withLock { $0 = handler }
    }
}
