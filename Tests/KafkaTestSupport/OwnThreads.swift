import Foundation
import Testing

/// Runs every test of a suite on threads of its own instead of Swift's cooperative pool.
///
/// The pool has one thread per core (two here), and Swift Testing runs synchronous tests on it:
/// a few tests that block for seconds (joining a consumer group, closing against a slow
/// coordinator) then hold every thread, and the `async` tests beside them cannot run. On a
/// loaded machine that stalled tasks for 10 s and more, so timing promises and watchdogs failed
/// for want of a thread, not for anything the library did. With this trait a test's task prefers
/// ``TestThreads``, which starts a thread whenever every one of its threads is busy.
public struct OwnThreads: SuiteTrait, TestTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        guard testCase != nil else { return try await function() }
        try await withTaskExecutorPreference(TestThreads.shared) { try await function() }
    }
}

extension Trait where Self == OwnThreads {
    /// Runs the tests on ``TestThreads`` rather than the cooperative pool (see ``OwnThreads``).
    public static var ownThreads: Self { OwnThreads() }
}

/// A task executor that runs each job on an idle thread of its own pool, or on a new thread when
/// none is idle: blocking work never waits for another blocking test to finish.
public final class TestThreads: TaskExecutor, @unchecked Sendable {
    // Safe: `jobs` and `idle` (threads waiting and not yet reserved by a signal) are touched only
    // with `condition` locked.
    public static let shared = TestThreads()

    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var idle = 0

    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        condition.lock()
        jobs.append(unowned)
        // An idle thread is reserved for this job as it is signalled, so the next job does not
        // count on it too.
        let spawn = idle == 0
        if !spawn {
            idle -= 1
            condition.signal()
        }
        condition.unlock()
        if spawn {
            let thread = Thread { [self] in work() }
            thread.name = "test-thread"
            thread.start()
        }
    }

    private func work() {
        while true {
            condition.lock()
            while jobs.isEmpty {
                idle += 1
                condition.wait()
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

/// Starts `process`, one start at a time in this test process: Foundation's `Process.run()` on
/// Linux crashed (a bad pointer in its memcpy) when tests on several threads started programs at
/// once. Waiting for the programs is not serialized.
public func launch(_ process: Process) throws {
    try processStarts.withLock { try process.run() }
}

private let processStarts = NSLock()
