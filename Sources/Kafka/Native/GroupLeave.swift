import Crdkafka
import KafkaProto

/// A group member's last steps before its handle is destroyed: commit what it handed out (when
/// its policy commits) and leave the group, both within one deadline.
///
/// librdkafka's blocking forms (`rd_kafka_commit` synchronous, `rd_kafka_consumer_close`) wait as
/// long as the coordinator takes: with a coordinator that does not answer, a close never returned.
/// Here the commit is `rd_kafka_commit_queue` and the leave `rd_kafka_consumer_close_queue`, both
/// answering on a queue this routine serves (the final revoke comes there too, and is handed to
/// the rebalance callback, and so to the service's hook) until each is done or the deadline passes. After the
/// deadline the handle is destroyed without the consumer close (`RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE`),
/// which librdkafka bounds by itself.
enum GroupLeave {
    /// Runs the steps on the live handle `rk`, with no other user; logs what did not finish in time.
    static func run(_ rk: OpaquePointer, commit: Bool, within timeout: Duration, group: String, logger: any KafkaLogger) {
        let deadline = ContinuousClock.now + timeout
        guard let replies = rd_kafka_queue_new(rk) else { return }
        defer { rd_kafka_queue_destroy(replies) }
        if commit { commitStored(rk, replies: replies, deadline: deadline, group: group, logger: logger) }
        if let error = rd_kafka_consumer_close_queue(rk, replies) {
            logger.warn("group member could not leave the group", [("group", group), ("error", errorText(error))])
            rd_kafka_error_destroy(error)
            return
        }
        while rd_kafka_consumer_closed(rk) == 0 {
            guard let wait = remaining(deadline) else {
                logger.warn("group member closed without leaving the group within its close timeout; the coordinator evicts it after the session timeout", [
                    ("group", group), ("closeTimeout", "\(timeout)"),
                ])
                return
            }
            guard let event = rd_kafka_queue_poll(replies, wait) else { continue }
            // The event API returns the final revoke as an event, not through the rebalance
            // callback: hand it to the callback, which runs the hooks and unassigns (librdkafka
            // waits for that unassign before it can finish closing).
            if rd_kafka_event_type(event) == RD_KAFKA_EVENT_REBALANCE, let list = rd_kafka_event_topic_partition_list(event) {
                rebalanceCallback(rk, rd_kafka_event_error(event), list, nil)
            }
            rd_kafka_event_destroy(event)
        }
    }

    /// Commits the stored offsets and waits for the coordinator's answer until `deadline`.
    private static func commitStored(_ rk: OpaquePointer, replies: OpaquePointer, deadline: ContinuousClock.Instant, group: String, logger: any KafkaLogger) {
        let stored = storedPositions(rk)
        let started = rd_kafka_commit_queue(rk, nil, replies, nil, nil)
        var outcome: rd_kafka_resp_err_t? = started == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : started
        while outcome == nil, let wait = remaining(deadline) {
            guard let event = rd_kafka_queue_poll(replies, wait) else { continue }
            if rd_kafka_event_type(event) == RD_KAFKA_EVENT_OFFSET_COMMIT { outcome = rd_kafka_event_error(event) }
            rd_kafka_event_destroy(event)
        }
        if outcome == RD_KAFKA_RESP_ERR_NO_ERROR || outcome == RD_KAFKA_RESP_ERR__NO_OFFSET { return }
        let reason = outcome.map { KafkaError($0).description } ?? "no answer from the coordinator within the close timeout"
        logger.warn("group member's final commit did not complete; these positions may be read again by the group", [
            ("group", group), ("reason", reason), ("notCommitted", stored),
        ])
    }

    /// The assignment's positions (the next offset to read) as `topic/partition@offset`, for the log.
    private static func storedPositions(_ rk: OpaquePointer) -> String {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        guard rd_kafka_assignment(rk, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return "" }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        _ = rd_kafka_position(rk, list)
        return GroupHandle.offsets(list).sorted { $0.key < $1.key }.filter { $0.value >= 0 }
            .map { "\($0.key)@\($0.value)" }.joined(separator: " ")
    }

    /// Milliseconds until `deadline`, at most 100 (so the close is re-checked), or nil once it passed.
    private static func remaining(_ deadline: ContinuousClock.Instant) -> Int32? {
        let left = deadline - ContinuousClock.now
        guard left > .zero else { return nil }
        return min(100, max(1, left.milliseconds))
    }

    private static func errorText(_ error: OpaquePointer) -> String {
        rd_kafka_error_string(error).map { String(cString: $0) } ?? "error \(rd_kafka_error_code(error).rawValue)"
    }
}
