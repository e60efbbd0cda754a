import Foundation
import Synchronization

/// A task that runs on a thread of its own rather than the cooperative pool, and records when
/// its body ended: latency checks of cancellation must not measure how long the test's own
/// continuation waits for one of the pool's two threads, which parallel suites keep busy.
final class OffPoolTask<Value: Sendable>: TaskExecutor, @unchecked Sendable {
    // Safe: `jobs` is guarded by `condition`; `ended` is a Mutex.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    let ended = EndMark()
    private(set) var task: Task<Value, any Error>!

    init(_ body: @escaping @Sendable () async throws -> Value) {
        // The thread keeps this executor alive for the rest of the test process (a test helper).
        let thread = Thread { [self] in
            while true {
                condition.lock()
                while jobs.isEmpty { condition.wait() }
                let batch = jobs
                jobs.removeAll()
                condition.unlock()
                for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
            }
        }
        thread.start()
        task = Task(executorPreference: self) { [ended] in
            defer { ended.value.withLock { $0 = .now } }
            return try await body()
        }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        condition.lock()
        jobs.append(unowned)
        condition.signal()
        condition.unlock()
    }

    /// Cancels the task; returns the instant of the call.
    func cancel() -> ContinuousClock.Instant {
        let now = ContinuousClock.now
        task.cancel()
        return now
    }

    /// How long after `instant` the body ended (nil while it runs).
    func endedAfter(_ instant: ContinuousClock.Instant) -> Duration? {
        ended.value.withLock { $0.map { $0 - instant } }
    }
}

/// When an ``OffPoolTask``'s body ended.
final class EndMark: Sendable {
    let value = Mutex<ContinuousClock.Instant?>(nil)
}
