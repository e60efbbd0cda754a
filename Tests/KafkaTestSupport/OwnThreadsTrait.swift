import Testing

/// Runs each test of a suite on an executor with threads of its own, instead of the shared
/// cooperative pool.
///
/// Most tests here call the blocking Go-style API: a consume waiting out its long-poll, a mock
/// cluster's close joining its threads (librdkafka 2.0.2's mock takes up to a second for that).
/// On the cooperative pool (two threads on a two-core machine) twelve such tests at once left no
/// thread for the rest: an in-memory processing loop, run beside them, waited 10–70 s for a
/// thread and failed its bound. With this trait a blocked test blocks only its own threads, and
/// the async code in it (child tasks included) runs there too.
public struct OwnThreadsTrait: SuiteTrait, TestTrait, TestScoping {
    /// Threads per test: two, so a test that blocks one thread on work of another of its tasks
    /// still makes progress, as it did on the two-thread pool.
    public let threads: Int

    public var isRecursive: Bool { true }

    public func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        // A suite's own scope runs nothing but its tests, which get a scope each.
        guard testCase != nil || !test.isSuite else { return try await function() }
        let executor = OwnThreadExecutor(threads: threads)
        defer { executor.finish() }
        try await withTaskExecutorPreference(executor) { try await function() }
    }
}

extension Trait where Self == OwnThreadsTrait {
    /// Each test of the suite runs on two threads of its own, off the shared cooperative pool.
    public static var ownThreads: Self { OwnThreadsTrait(threads: 2) }
}
