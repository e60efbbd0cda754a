import Synchronization

/// The task running one message's handler, so that a revoke or a stop can cancel that handler
/// alone: a task group cancels all of its children or none, and a task of its own per handler
/// would cost a second task and two more wake-ups per message.
final class HandlerSlot: Sendable {
    /// An `UnsafeCurrentTask` may be used only while its task runs. The task stores it when it
    /// starts and replaces it with `.ended` before it ends, both under `phase`'s lock, and
    /// ``cancel()`` uses it only under that lock: hence `@unchecked Sendable`.
    private struct Running: @unchecked Sendable {
        let task: UnsafeCurrentTask
    }

    private enum Phase {
        case pending
        case running(Running)
        case cancelRequested
        case ended
    }

    private let phase = Mutex(Phase.pending)

    /// Runs `body` in the calling task, which ``cancel()`` cancels from then on (at once, when it
    /// was asked before `body` started).
    func run<Result>(_ body: () async -> Result) async -> Result {
        withUnsafeCurrentTask { current in
            guard let current else { return }
            let running = Running(task: current)
            phase.withLock { phase in
                if case .cancelRequested = phase {
                    running.task.cancel()
                } else {
                    phase = .running(running)
                }
            }
        }
        defer { phase.withLock { $0 = .ended } }
        return await body()
    }

    /// Cancels the handler's task; a handler that has not started yet starts cancelled, one
    /// that ended is left alone.
    func cancel() {
        phase.withLock { phase in
            switch phase {
            case .pending: phase = .cancelRequested
            case .running(let running): running.task.cancel()
            case .cancelRequested, .ended: break
            }
        }
    }
}
