import Synchronization

/// One result, produced once and awaited by threads or tasks: a use of ``Waiters`` with the
/// value latched, so a waiter that comes after the result still gets it.
///
/// ``close(with:)`` ends every wait with its error (a handle closing under a call); a result
/// that comes after that is kept for nobody.
final class Completion<Value: Sendable>: Sendable {
    private let stored = Mutex<Result<Value, any Error>?>(nil)
    private let waiters = Waiters<Result<Value, any Error>>()

    init() {}

    /// Sets the result (the first one stays) and wakes every waiter; false when it was set before.
    @discardableResult
    func finish(_ outcome: Result<Value, any Error>) -> Bool {
        let first = stored.withLock { stored in
            guard stored == nil else { return false }
            stored = outcome
            return true
        }
        if first { waiters.resumeAll(with: outcome) }
        return first
    }

    /// Ends every wait, present and future, with `error`, unless the result is already set.
    func close(with error: KafkaError) {
        waiters.close(with: error)
    }

    /// The result, if it is set (without waiting).
    var result: Result<Value, any Error>? { stored.withLock { $0 } }

    /// Blocks the calling thread until the result or ``close(with:)``.
    func waitBlocking() throws -> Value {
        if let done = stored.withLock({ $0 }) { return try done.get() }
        return try waiters.waitBlocking(timeout: nil, onTimeout: .failure(KafkaError.closed)) { stored.withLock { $0 } }.get()
    }

    /// Blocks the calling thread until the result, ``close(with:)`` or `timeout`; nil when `timeout` passed first.
    func waitBlocking(timeout: Duration) throws -> Value? {
        if let done = stored.withLock({ $0 }) { return try done.get() }
        let outcome = try waiters.waitBlocking(timeout: timeout, onTimeout: .failure(TimedOut())) { stored.withLock { $0 } }
        if case .failure(let error) = outcome, error is TimedOut { return nil }
        return try outcome.get()
    }

    /// The outcome a timed wait gets when its deadline passed: never stored, never thrown.
    private struct TimedOut: Error {}

    /// Suspends until the result, ``close(with:)`` or the task's cancellation (`CancellationError`).
    func wait() async throws -> Value {
        if let done = stored.withLock({ $0 }) { return try done.get() }
        return try await waiters.wait(timeout: nil, onTimeout: .failure(KafkaError.closed)) { stored.withLock { $0 } }.get()
    }
}
