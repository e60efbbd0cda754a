import Crdkafka

/// Tells `async` consumers that their librdkafka queue has something to read, so that
/// waiting for messages suspends tasks instead of blocking threads.
///
/// librdkafka calls ``queueEventCallback`` from its own thread when an element is enqueued on
/// the (previously empty) queue; that wakes every task waiting in ``wait(timeout:hasMessages:)``
/// (any number: consumers are `Sendable`, and several tasks may read one). The callback is
/// enabled only while a task waits: a consumer read by blocking calls, or one that keeps up with
/// its fetches, costs librdkafka's fetching thread nothing per enqueue. Closing wakes the waiters
/// with `KafkaError.closed`; a timeout or cancellation ends one wait alone. A use of ``Waiters``.
final class QueueSignal: @unchecked Sendable {
    // Safe: `armed` and `queue` are touched only with `lock` held; `queue` is set to nil by
    // ``detach()`` before its owner destroys the queue.
    private let waiters = Waiters<Bool>()
    private let lock = PlainLock()
    private var queue: OpaquePointer?
    /// Tasks waiting now: the callback is enabled while there is one.
    private var armed = 0

    /// Signals for `queue`, which its owner destroys only after ``detach()``.
    init(queue: OpaquePointer) {
        self.queue = queue
    }

    /// Waits until the queue gets an element (true) or `timeout` passes (false).
    /// - Parameter hasMessages: checked after the callback is enabled and the waiter registered,
    ///   so an element that arrived before is not missed (the callback fires only on
    ///   empty-to-non-empty, and only while enabled).
    /// - Throws: `KafkaError.closed` once closed; `CancellationError` when the task is cancelled.
    func wait(timeout: Duration, hasMessages: () -> Bool) async throws -> Bool {
        arm()
        defer { disarm() }
        return try await waiters.wait(timeout: timeout, onTimeout: false) { hasMessages() ? true : nil }
    }

    /// Something was enqueued: wakes every waiter.
    func fire() {
        waiters.resumeAll(with: true)
    }

    /// Wakes every waiter with `KafkaError.closed`; later waits throw it at once.
    func close() {
        waiters.close(with: .closed)
    }

    /// Disables the callback for good; the owner then destroys the queue. Idempotent.
    func detach() {
        lock.withLock {
            if let queue, armed > 0 { rd_kafka_queue_cb_event_enable(queue, nil, nil) }
            queue = nil
        }
        close()
    }

    private func arm() {
        lock.withLock {
            armed += 1
            // Unretained: the owner keeps this object until after `detach()`, which disables it first.
            if armed == 1, let queue { rd_kafka_queue_cb_event_enable(queue, queueEventCallback, Unmanaged.passUnretained(self).toOpaque()) }
        }
    }

    private func disarm() {
        lock.withLock {
            armed -= 1
            if armed == 0, let queue { rd_kafka_queue_cb_event_enable(queue, nil, nil) }
        }
    }
}

extension Duration {
    /// Whole nanoseconds, saturating.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return seconds < 0 ? .min : .max }
        return whole.addingReportingOverflow(attoseconds / 1_000_000_000).overflow ? .max : whole + attoseconds / 1_000_000_000
    }
}

/// librdkafka's queue event callback: the opaque is the queue's ``QueueSignal``, kept alive
/// by its owner (``PartitionQueue``, ``GroupHandle``) until the callback is disabled for good.
let queueEventCallback: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void = { _, opaque in
    guard let opaque else { return }
    Unmanaged<QueueSignal>.fromOpaque(opaque).takeUnretainedValue().fire()
}
