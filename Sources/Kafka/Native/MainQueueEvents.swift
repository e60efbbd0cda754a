import Crdkafka

/// Serves the events of a handle's main queue: delivery reports, errors, statistics and
/// OAUTHBEARER token refreshes.
///
/// Producer handles take delivery reports as events (`RD_KAFKA_EVENT_DR`), not through a
/// per-message callback: one event carries the reports of a whole produce response, and
/// consecutive reports of one produce call are counted with one atomic operation.
/// Whoever serves the main queue (the handle's ``PollThread``, or a produce call that needs
/// room) must use ``serveAvailable(_:_:_:)`` or ``serve(_:_:_:)``: `rd_kafka_poll` would drop
/// event-mode delivery reports.
enum MainQueueEvents {
    /// Reports read from an event per `rd_kafka_event_message_array` call: few enough that their
    /// pointers fit the stack (a temporary allocation over 1 KiB is a heap allocation per event).
    private static let reportsPerRead = 64

    /// Serves `event` and destroys it; true when it carried delivery reports (room in the queue).
    /// - Parameter pollThread: the handle's poll thread when a produce call serves: a token refresh
    ///   is then handed to that thread, so that the token provider never runs on a caller's thread
    ///   (nil on the poll thread itself, which answers it at once).
    static func serve(_ rk: OpaquePointer, _ event: OpaquePointer, _ pollThread: PollThread?) -> Bool {
        defer { rd_kafka_event_destroy(event) }
        let context = HandleContext.from(rk)
        switch Int32(rd_kafka_event_type(event)) {
        case RD_KAFKA_EVENT_DR:
            serveDeliveryReports(event, context: context)
            return true
        case RD_KAFKA_EVENT_ERROR:
            let text = rd_kafka_event_error_string(event).map { String(cString: $0) } ?? ""
            context?.reportError(code: rd_kafka_event_error(event).rawValue, text: text)
        case RD_KAFKA_EVENT_STATS:
            if let json = rd_kafka_event_stats(event) { context?.keepStatistics(String(cString: json)) }
        case RD_KAFKA_EVENT_OAUTHBEARER_TOKEN_REFRESH:
            if let pollThread { pollThread.requestTokenRefresh() } else { refreshToken(rk) }
        default:
            break
        }
        return false
    }

    /// Serves every event already in `queue` without waiting; true when any carried delivery reports.
    /// `pollThread` as for ``serve(_:_:_:)``.
    static func serveAvailable(_ rk: OpaquePointer, _ queue: OpaquePointer, _ pollThread: PollThread?) -> Bool {
        var servedReports = false
        while let event = rd_kafka_queue_poll(queue, 0) {
            if serve(rk, event, pollThread) { servedReports = true }
        }
        return servedReports
    }

    /// Records each report in its message's delivery slot, then counts the arrivals of each run of
    /// consecutive reports of one batch at once (a call's messages arrive in order, so a response
    /// usually holds one run per call).
    private static func serveDeliveryReports(_ event: OpaquePointer, context: HandleContext?) {
        if let context, context.reportsToReceipts { return serveReceipts(event, context: context) }
        withUnsafeTemporaryAllocation(of: UnsafePointer<rd_kafka_message_t>?.self, capacity: reportsPerRead) { reports in
            guard let base = reports.baseAddress else { return }
            var run: (batch: Unmanaged<ProduceAttempt>, count: Int)?
            while true {
                let read = rd_kafka_event_message_array(event, base, reportsPerRead)
                if read == 0 { break }
                for index in 0..<read {
                    guard let message = base[index], let opaque = message.pointee._private else { continue }
                    let slot = opaque.assumingMemoryBound(to: DeliverySlot.self)
                    slot.pointee.error = message.pointee.err.rawValue
                    // librdkafka reports a logical offset (-1001, unknown) for a message it delivered without
                    // learning where, e.g. an idempotent retry that found later messages stored; callers see -1.
                    slot.pointee.offset = max(-1, message.pointee.offset)
                    let batch = slot.pointee.attempt
                    if let current = run, current.batch.toOpaque() == batch.toOpaque() {
                        run = (batch, current.count + 1)
                    } else {
                        if let current = run { arrive(current.batch, current.count, context) }
                        run = (batch, 1)
                    }
                }
            }
            if let current = run { arrive(current.batch, current.count, context) }
        }
    }

    /// Resolves the ``DeliveryReceipt`` of each report, taking over the reference librdkafka held
    /// (see ``SenderHandle/enqueue(_:topic:partition:receipt:)``); a record sent without a receipt
    /// only reports its failure. A report of a purged record (only closing purges) fails with
    /// `KafkaError.closed`.
    private static func serveReceipts(_ event: OpaquePointer, context: HandleContext) {
        while let message = rd_kafka_event_message_next(event) {
            let code = message.pointee.err
            let failure: KafkaError? = switch code {
            case RD_KAFKA_RESP_ERR_NO_ERROR: nil
            case RD_KAFKA_RESP_ERR__PURGE_QUEUE, RD_KAFKA_RESP_ERR__PURGE_INFLIGHT: .closed
            // Not rd_kafka_message_errstr: for a producer's message it reads the payload as the text.
            default: KafkaError(code)
            }
            guard let opaque = message.pointee._private else {
                if let failure {
                    let topic = message.pointee.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
                    context.reportFailure(DeliveryFailure(topic: topic, partition: message.pointee.partition, error: failure))
                }
                continue
            }
            let receipt = Unmanaged<DeliveryReceipt>.fromOpaque(opaque).takeRetainedValue()
            if let failure {
                context.resolve(receipt, failure)
            } else {
                // A logical offset (-1001: delivered without learning where) reads as -1.
                receipt.resolveDelivered(offset: max(-1, message.pointee.offset))
            }
        }
    }

    /// Counts `count` arrived reports of the attempt `batch`; retires it after its last. The
    /// attempt is alive here: it is released only once every one of its reports was counted.
    private static func arrive(_ batch: Unmanaged<ProduceAttempt>, _ count: Int, _ context: HandleContext?) {
        if batch._withUnsafeGuaranteedRef({ $0.arrived(count) }) {
            ProduceAttempt.retire(batch, context: context)
        }
    }
}
