import Foundation

/// Runs a blocking call on a thread of its own and suspends until it returns.
///
/// Blocking calls must not run on the cooperative pool: on a two-core machine it has two threads,
/// and two blocked calls waiting for a third task (the one that closes the broker) would never be
/// woken. The call still runs in the calling task, on a task executor whose one thread is its own,
/// so the test's context goes with it: an `#expect` in `body` is the calling test's. (On a bare
/// `Thread` it was recorded for no test, and Swift Testing then hands such an issue to every
/// running test's issue handlers: a property check running beside it counted it as its own failure.)
@concurrent
public func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    let executor = OwnThreadExecutor()
    defer { executor.finish() }
    return try await withTaskExecutorPreference(executor) { try body() }
}

/// A task executor that runs its jobs on threads of its own (one by default), until ``finish()``.
public final class OwnThreadExecutor: TaskExecutor, @unchecked Sendable {
    // Safe: `jobs` and `finished` are guarded by `condition`.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var finished = false

    /// Starts `threads` threads (at least one).
    public init(threads: Int = 1) {
        for _ in 0..<max(1, threads) {
            Thread { [self] in run() }.start()
        }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        condition.lock()
        jobs.append(unowned)
        condition.signal()
        condition.unlock()
    }

    /// Lets the thread end once it ran the jobs it was given.
    public func finish() {
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while jobs.isEmpty, !finished { condition.wait() }
            if jobs.isEmpty {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
