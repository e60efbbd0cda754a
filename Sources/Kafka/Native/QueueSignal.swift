import Crdkafka

/// Tells `async` consumers that their librdkafka queue has something to read, so that
/// waiting for messages suspends tasks instead of blocking threads.
///
/// librdkafka calls ``queueEventCallback`` from its own thread when an element is enqueued on
/// the (previously empty) queue; that wakes every task waiting in ``wait(timeout:hasMessages:)``
/// (any number: consumers are `Sendable`, and several tasks may read one). Closing wakes them
/// with ``KafkaError/closed``; a timeout or cancellation ends one wait alone. A use of ``Waiters``.
final class QueueSignal: Sendable {
    private let waiters = Waiters<Bool>()

    /// Waits until the queue gets an element (true) or `timeout` passes (false).
    /// - Parameter hasMessages: checked after the waiter is registered, so an element that
    ///   arrived before it is not missed (the callback fires only on empty-to-non-empty).
    /// - Throws: ``KafkaError/closed`` once closed; `CancellationError` when the task is cancelled.
    func wait(timeout: Duration, hasMessages: () -> Bool) async throws -> Bool {
        try await waiters.wait(timeout: timeout, onTimeout: false) { hasMessages() ? true : nil }
    }

    /// Something was enqueued: wakes every waiter.
    func fire() {
        waiters.resumeAll(with: true)
    }

    /// Wakes every waiter with ``KafkaError/closed``; later waits throw it at once.
    func close() {
        waiters.close(with: .closed)
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
/// by its ``PartitionQueue`` until the callback is disabled.
let queueEventCallback: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void = { _, opaque in
    guard let opaque else { return }
    Unmanaged<QueueSignal>.fromOpaque(opaque).takeUnretainedValue().fire()
}
