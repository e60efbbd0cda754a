import Crdkafka

/// The one way the library takes fetched messages off a librdkafka consumer queue, for
/// partition and group consumers alike.
///
/// Why not simply `rd_kafka_consume_batch_queue`: in librdkafka 2.0.x that call
/// (`rd_kafka_q_serve_rkmessages`, rdkafka_queue.c) marks each message consumed
/// (`rd_kafka_fetch_op_app_prepare`, which advances the partition's application offset) as it
/// appends it to the caller's array, and when a pause, resume, seek or rebalance bumps the
/// partition's version during the call it drops the messages already appended
/// (`rd_kafka_purge_outdated_messages`) without rewinding that offset. A pause then saves that
/// offset as the place to fetch from on resume (`rd_kafka_toppar_pause_resume`,
/// rdkafka_partition.c), so the dropped messages are never fetched again: lost. librdkafka
/// pauses every assigned partition at the start of each rebalance, cooperative ones included,
/// so a group member lost messages at every rebalance (the 2.0.0 release notes list it as a
/// known issue; 2.1.0 fixed it by preparing messages only once they are returned).
///
/// `rd_kafka_consume_queue` (`rd_kafka_consume0`, rdkafka.c) pops one operation, discards it
/// when its version is outdated, and only then marks the message consumed and returns it: a
/// message is marked consumed exactly when the caller owns it, so nothing it marks is ever
/// dropped. A pause that lands between the pop and the mark can at worst make librdkafka fetch
/// that one message again (a repeat, which the group consumer filters), never skip one.
/// The same path serves every librdkafka version: 2.1's safe batch call would save one call
/// per message, but it would need its own rebalance bookkeeping (see `stop`), and the
/// per-message lock and version check are the same in both.
///
/// The call returns as soon as one message is there: the wait is for the first message only,
/// never for a full batch.
///
/// A partition consumer's queue takes the rest of a fetch in one batch call (``takeAfterFirst``):
/// nothing but the consumer's own close changes such a partition's version (it never pauses,
/// resumes or seeks), so the loss above cannot happen there, and each `rd_kafka_consume_queue`
/// reads the clock twice and sets the thread's last error, which the batch call does once.
enum QueueDrain {
    /// Moves up to `capacity` messages (or per-message errors) from `queue` into `messages`,
    /// waiting up to `timeout` for the first; serves rebalances and other callbacks on the way.
    /// - Parameter stop: called after each further attempt with the number taken so far and whether
    ///   that attempt took one; true ends the call there. A group consumer stops right after a
    ///   rebalance callback ran, so it knows which of the messages taken predate the rebalance.
    /// - Returns: how many were moved (0 when none came in time or the queue was woken by
    ///   `rd_kafka_queue_yield`); -1 when the queue failed, with librdkafka's last error set.
    static func take(
        from queue: OpaquePointer, timeout: Duration,
        into messages: UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>, capacity: Int,
        stop: (_ taken: Int, _ attemptTookOne: Bool) -> Bool = { _, _ in false }
    ) -> Int {
        guard capacity > 0 else { return 0 }
        let first = takeFirst(from: queue, timeout: timeout, into: messages)
        guard first == 1 else { return first }
        var count = 1
        guard !stop(count, true) else { return count }
        while count < capacity {
            guard let next = rd_kafka_consume_queue(queue, 0) else {
                _ = stop(count, false)
                break
            }
            messages[count] = next
            count += 1
            if stop(count, true) { break }
        }
        return count
    }

    /// Waits up to `timeout` for the first message of `queue`, then takes the others already
    /// there, up to `capacity` in all, in one batch call. For queues whose partition's version
    /// nothing changes while a fetch runs (a partition consumer's); group members use ``take``.
    /// - Returns: as ``take``.
    static func takeAfterFirst(
        from queue: OpaquePointer, timeout: Duration,
        into messages: UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>, capacity: Int
    ) -> Int {
        guard capacity > 0 else { return 0 }
        let first = takeFirst(from: queue, timeout: timeout, into: messages)
        guard first == 1, capacity > 1 else { return first }
        // A timeout of 0: what is there now, never a wait to fill the batch.
        let rest = rd_kafka_consume_batch_queue(queue, 0, messages + 1, capacity - 1)
        return 1 + max(0, rest)
    }

    /// Waits up to `timeout` for one message and puts it in `messages[0]`: 1 when one came, 0 when
    /// none came in time or the queue was woken, -1 when the queue failed (librdkafka's last error set).
    private static func takeFirst(
        from queue: OpaquePointer, timeout: Duration, into messages: UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>
    ) -> Int {
        guard let first = rd_kafka_consume_queue(queue, timeout.milliseconds) else {
            let code = rd_kafka_last_error()
            let quiet = code == RD_KAFKA_RESP_ERR_NO_ERROR || code == RD_KAFKA_RESP_ERR__TIMED_OUT || code == RD_KAFKA_RESP_ERR__INTR
            return quiet ? 0 : -1
        }
        messages[0] = first
        return 1
    }
}
