import Dispatch
import Synchronization

/// The library's waiting primitive: any number of waiters, tasks or threads, each woken exactly
/// once, by whichever comes first of a value (``resumeAll(with:)``), a deadline, its task's
/// cancellation, or ``close(with:)``.
///
/// A waiter first registers, then runs its `ready` check: a value published between the
/// caller's last look and the registration is seen by that check, and one published after it
/// wakes the registered waiter, so no wake-up is lost whichever order the threads run in.
/// Every resumption takes the waiter out of the registry under the lock before resuming it, so
/// a continuation is resumed once and a blocked thread is signalled once, however resume,
/// deadline, cancellation and close race. An `async` waiter parks no thread: its deadline is a
/// dispatch timer, its cancellation a task cancellation handler.
final class Waiters<Value: Sendable>: Sendable {
    /// One registered wait.
    private enum Waiter {
        // Unsafe, not checked: the registry resumes each continuation once (see above), and a
        // checked continuation costs an allocation per wait.
        case task(UnsafeContinuation<Value, any Error>)
        case thread(BlockedThread)
    }

    private struct State {
        var waiting = Registered()
        var nextID: UInt64 = 0
        /// Set by ``close(with:)``: every wait from then on throws it at once.
        var closedWith: KafkaError?
    }

    /// The registered waiters. Most registries hold one waiter at a time (a receipt's awaiter, a
    /// consumer's reader), so the first sits inline and only further ones take a dictionary.
    private struct Registered {
        private var first: (id: UInt64, waiter: Waiter)?
        private var others: [UInt64: Waiter] = [:]

        var isEmpty: Bool { first == nil && others.isEmpty }
        var count: Int { (first == nil ? 0 : 1) + others.count }

        mutating func insert(_ waiter: Waiter, id: UInt64) {
            if first == nil { first = (id, waiter) } else { others[id] = waiter }
        }

        mutating func remove(_ id: UInt64) -> Waiter? {
            if let first, first.id == id {
                self.first = nil
                return first.waiter
            }
            return others.removeValue(forKey: id)
        }

        /// Takes every waiter out, leaving none.
        mutating func removeAll() -> (first: Waiter?, others: [UInt64: Waiter]) {
            let taken = (first?.waiter, others)
            first = nil
            others = [:]
            return taken
        }
    }

    private let state = Mutex(State())

    /// Creates a registry with no waiters, open.
    init() {}

    /// How many waiters are registered now (for tests and diagnostics).
    var count: Int { state.withLock { $0.waiting.count } }

    /// Suspends the task until a value comes, `timeout` passes (then returns `onTimeout`), the task
    /// is cancelled (`CancellationError`) or the registry closes (its error), unless `ready()`
    /// gives a value first (checked after registering).
    /// - Parameter timeout: nil waits without a deadline.
    func wait(timeout: Duration?, onTimeout: Value, ready: () -> Value?) async throws -> Value {
        let id = state.withLock { state -> UInt64 in
            state.nextID &+= 1
            return state.nextID
        }
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Value, any Error>) in
                let early: Result<Value, any Error>? = state.withLock { state in
                    if let error = state.closedWith { return .failure(error) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    state.waiting.insert(.task(continuation), id: id)
                    return nil
                }
                if let early {
                    continuation.resume(with: early)
                    return
                }
                if let value = ready() {
                    resume(id, with: .success(value))
                    return
                }
                if let timeout {
                    let deadline = DispatchTime.now() + .nanoseconds(Int(clamping: max(0, timeout.nanoseconds)))
                    DispatchQueue.global().asyncAfter(deadline: deadline) { [self] in resume(id, with: .success(onTimeout)) }
                }
            }
        } onCancel: {
            resume(id, with: .failure(CancellationError()))
        }
    }

    /// Blocks the calling thread with the same rules as the `async` wait (no cancellation: a
    /// thread has none).
    func waitBlocking(timeout: Duration?, onTimeout: Value, ready: () -> Value?) throws -> Value {
        let blocked = BlockedThread()
        let id: UInt64 = try state.withLock { state in
            if let error = state.closedWith { throw error }
            state.nextID &+= 1
            state.waiting.insert(.thread(blocked), id: state.nextID)
            return state.nextID
        }
        if let value = ready() { resume(id, with: .success(value)) }
        if !blocked.wait(timeout: timeout) {
            // The deadline passed: withdraw, unless a resumption took the waiter out first (its
            // signal is then on its way and carries the outcome).
            let withdrawn = state.withLock { $0.waiting.remove(id) != nil }
            if withdrawn { return onTimeout }
            _ = blocked.wait(timeout: nil)
        }
        return try blocked.outcome.get()
    }

    /// Wakes every registered waiter with `value`; returns how many.
    @discardableResult
    func resumeAll(with value: Value) -> Int {
        let woken = state.withLock { $0.waiting.removeAll() }
        return Self.deliver(.success(value), to: woken)
    }

    /// Wakes every waiter with `error` and makes every later wait throw it at once. Idempotent
    /// (the first error stays).
    func close(with error: KafkaError) {
        let woken = state.withLock { state in
            if state.closedWith == nil { state.closedWith = error }
            return state.waiting.removeAll()
        }
        _ = Self.deliver(.failure(error), to: woken)
    }

    /// Whether ``close(with:)`` ran.
    var isClosed: Bool { state.withLock { $0.closedWith != nil } }

    /// Resumes waiter `id` with `result`, if it still waits.
    private func resume(_ id: UInt64, with result: Result<Value, any Error>) {
        guard let waiter = state.withLock({ $0.waiting.remove(id) }) else { return }
        Self.deliver(result, to: waiter)
    }

    /// Delivers `result` to every waiter taken out of the registry; returns how many.
    private static func deliver(_ result: Result<Value, any Error>, to woken: (first: Waiter?, others: [UInt64: Waiter])) -> Int {
        if let first = woken.first { deliver(result, to: first) }
        for waiter in woken.others.values { deliver(result, to: waiter) }
        return (woken.first == nil ? 0 : 1) + woken.others.count
    }

    private static func deliver(_ result: Result<Value, any Error>, to waiter: Waiter) {
        switch waiter {
        case .task(let continuation): continuation.resume(with: result)
        case .thread(let blocked): blocked.finish(result)
        }
    }

    /// A thread blocked in ``waitBlocking(timeout:onTimeout:ready:)``: its outcome, set once
    /// before its semaphore is signalled once.
    private final class BlockedThread: @unchecked Sendable {
        // Safe: `outcome` is written once, by the one resumer that took this waiter out of the
        // registry under the registry's lock, before `signal`; read only after `wait` returned it.
        private let signal = DispatchSemaphore(value: 0)
        private(set) var outcome: Result<Value, any Error> = .failure(KafkaError.closed)

        func finish(_ result: Result<Value, any Error>) {
            outcome = result
            signal.signal()
        }

        /// True when signalled, false when `timeout` passed first.
        func wait(timeout: Duration?) -> Bool {
            guard let timeout else {
                signal.wait()
                return true
            }
            return signal.wait(timeout: .now() + .nanoseconds(Int(clamping: max(0, timeout.nanoseconds)))) == .success
        }
    }
}
