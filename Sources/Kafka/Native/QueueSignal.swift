import Crdkafka
import Dispatch
import Synchronization

/// Tells an `async` consumer that its librdkafka queue has something to read, so that
/// waiting for messages suspends a task instead of blocking a thread.
///
/// librdkafka calls ``queueEventCallback`` from its own thread when an element is
/// enqueued on the (previously empty) queue; that resumes the task waiting in
/// ``wait(timeout:hasMessages:)``, if any. A timer resumes it after the timeout, closing
/// resumes it with ``KafkaError/closed``, and cancelling its task with `CancellationError`.
final class QueueSignal: Sendable {
    private struct State {
        var waiter: (id: UInt64, continuation: CheckedContinuation<Bool, any Error>)?
        var nextID: UInt64 = 0
        var closed = false
    }

    private let state = Mutex(State())

    /// Waits until the queue gets an element (true) or `timeout` passes (false).
    /// - Parameter hasMessages: checked after the waiter is registered, so an element that
    ///   arrived before it is not missed (the callback fires only on empty-to-non-empty).
    /// - Throws: ``KafkaError/closed`` once closed; `CancellationError` when the task is cancelled.
    func wait(timeout: Duration, hasMessages: () -> Bool) async throws -> Bool {
        let id = state.withLock { state -> UInt64 in
            state.nextID &+= 1
            return state.nextID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Bool, any Error>) in
                let early: Result<Bool, any Error>? = state.withLock { state in
                    if state.closed { return .failure(KafkaError.closed) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    state.waiter = (id, continuation)
                    return nil
                }
                if let early {
                    continuation.resume(with: early)
                    return
                }
                if hasMessages() {
                    resume(id, with: .success(true))
                    return
                }
                let deadline = DispatchTime.now() + .nanoseconds(Int(clamping: timeout.nanoseconds))
                DispatchQueue.global().asyncAfter(deadline: deadline) { [self] in resume(id, with: .success(false)) }
            }
        } onCancel: {
            resume(id, with: .failure(CancellationError()))
        }
    }

    /// Resumes the waiter `id`, if it is still the one waiting.
    private func resume(_ id: UInt64, with result: Result<Bool, any Error>) {
        let continuation: CheckedContinuation<Bool, any Error>? = state.withLock { state in
            guard let waiter = state.waiter, waiter.id == id else { return nil }
            state.waiter = nil
            return waiter.continuation
        }
        continuation?.resume(with: result)
    }

    /// Something was enqueued: wakes the waiter.
    func fire() {
        let continuation = state.withLock { state in
            defer { state.waiter = nil }
            return state.waiter?.continuation
        }
        continuation?.resume(returning: true)
    }

    /// Wakes the waiter with ``KafkaError/closed``; later waits throw it at once.
    func close() {
        let continuation = state.withLock { state in
            state.closed = true
            defer { state.waiter = nil }
            return state.waiter?.continuation
        }
        continuation?.resume(throwing: KafkaError.closed)
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
