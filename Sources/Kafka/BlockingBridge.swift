import Foundation
import Synchronization

/// Runs `body`, a blocking call (dial, metadata, watermarks, commits), on a thread of
/// its own and suspends until it returns, so that `async` callers never block the
/// cooperative pool, and any number of such calls can wait at once.
///
/// A cancelled task stops waiting at once and throws `CancellationError`; `body` runs to
/// its end in the background and a value it still produces goes to `abandoned` (which
/// closes what it made, e.g. a dialled broker).
func runBlocking<Result: Sendable>(
    abandoned: @escaping @Sendable (Result) -> Void = { _ in },
    _ body: @escaping @Sendable () throws -> Result
) async throws -> Result {
    let call = BlockingCall<Result>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Result, any Error>) in
            guard call.start(continuation) else {
                continuation.resume(throwing: CancellationError())
                return
            }
            let thread = Thread {
                let outcome = Swift.Result { try body() }
                if !call.finish(outcome), case .success(let value) = outcome { abandoned(value) }
            }
            thread.name = "kafka-blocking-call"
            thread.start()
        }
    } onCancel: {
        call.cancel()
    }
}

/// The continuation of one ``runBlocking(abandoned:_:)`` call, resumed exactly once: by
/// the thread's result or by cancellation, whichever comes first.
private final class BlockingCall<Result: Sendable>: Sendable {
    private enum State {
        case idle
        case waiting(CheckedContinuation<Result, any Error>)
        case done
    }

    private let state = Mutex(State.idle)

    /// Registers the waiter; false when the task was cancelled before.
    func start(_ continuation: CheckedContinuation<Result, any Error>) -> Bool {
        state.withLock { state in
            guard case .idle = state else { return false }
            state = .waiting(continuation)
            return true
        }
    }

    /// Hands over the result; false when nobody waits for it any more.
    func finish(_ outcome: Swift.Result<Result, any Error>) -> Bool {
        let waiting: CheckedContinuation<Result, any Error>? = state.withLock { state in
            defer { state = .done }
            if case .waiting(let continuation) = state { return continuation }
            return nil
        }
        waiting?.resume(with: outcome)
        return waiting != nil
    }

    func cancel() {
        let waiting: CheckedContinuation<Result, any Error>? = state.withLock { state in
            defer { state = .done }
            if case .waiting(let continuation) = state { return continuation }
            return nil
        }
        waiting?.resume(throwing: CancellationError())
    }
}
