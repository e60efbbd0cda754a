import Synchronization

/// Runs `body`, a blocking call (dial, metadata, watermarks, creating a consumer), on a thread of
/// the ``CallPool`` and suspends until it returns, so that `async` callers never block the
/// cooperative pool, and any number of such calls can wait at once on a handful of threads.
///
/// A cancelled task stops waiting at once and throws `CancellationError`; `body` runs to its end
/// on the pool and a value it still produces goes to `abandoned` (which closes what it made,
/// e.g. a dialled broker).
func runBlocking<Value: Sendable>(
    abandoned: @escaping @Sendable (Value) -> Void = { _ in },
    _ body: @escaping @Sendable () throws -> Value
) async throws -> Value {
    try Task.checkCancellation()
    let call = AbandonableCall<Value>()
    CallPool.shared.run {
        let outcome = Result { try body() }
        if let orphan = call.finish(outcome) { abandoned(orphan) }
    }
    do {
        return try await call.completion.wait()
    } catch is CancellationError {
        if let orphan = call.abandon() { abandoned(orphan) }
        throw CancellationError()
    }
}

/// The result of one ``runBlocking(abandoned:_:)`` call, and who owns it: its waiter, or, once
/// the waiter gave up, `abandoned`. Exactly one of ``finish(_:)`` and ``abandon()`` hands a value on.
private final class AbandonableCall<Value: Sendable>: Sendable {
    private enum Fate {
        case pending
        case abandoned
        case finished(Result<Value, any Error>)
    }

    let completion = Completion<Value>()
    private let fate = Mutex(Fate.pending)

    /// The body returned: its value for `abandoned` when the waiter gave up, else nil.
    func finish(_ outcome: Result<Value, any Error>) -> Value? {
        let orphaned: Bool = fate.withLock { fate in
            if case .abandoned = fate { return true }
            fate = .finished(outcome)
            return false
        }
        guard !orphaned else { return try? outcome.get() }
        completion.finish(outcome)
        return nil
    }

    /// The waiter gave up: the value for `abandoned` when it had come already, else nil (then
    /// ``finish(_:)`` hands it on).
    func abandon() -> Value? {
        fate.withLock { fate in
            if case .finished(let outcome) = fate { return try? outcome.get() }
            fate = .abandoned
            return nil
        }
    }
}
