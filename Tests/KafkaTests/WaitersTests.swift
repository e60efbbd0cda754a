import Foundation
@testable import Kafka
import Synchronization
import Testing
import KafkaTestSupport

@Suite("Waiters: the one waiting primitive", .ownThreads, .timeLimit(.minutes(2)))
struct WaitersTests {
    @Test("every one of many task and thread waiters is woken, once, by one value")
    func manyWaiters() async throws {
        let waiters = Waiters<Int>()
        let tasks = (0..<16).map { _ in Task { try await waiters.wait(timeout: nil, onTimeout: -1) { nil } } }
        let threadResults = Mutex<[Int]>([])
        let threadsDone = DispatchGroup()
        for _ in 0..<4 {
            threadsDone.enter()
            Thread.detachNewThread {
                defer { threadsDone.leave() }
                if let value = try? waiters.waitBlocking(timeout: nil, onTimeout: -1, ready: { nil }) {
                    threadResults.withLock { $0.append(value) }
                }
            }
        }
        try await eventuallyAsync("20 waiters registered") { waiters.count == 20 }
        #expect(waiters.resumeAll(with: 7) == 20)
        for task in tasks { #expect(try await task.value == 7) }
        threadsDone.wait()
        #expect(threadResults.withLock { $0 } == [7, 7, 7, 7])
        #expect(waiters.count == 0)
        #expect(waiters.resumeAll(with: 8) == 0)
    }

    @Test("a value published before registering is seen by the ready check; none is lost")
    func readyCheck() async throws {
        let waiters = Waiters<Int>()
        #expect(try await waiters.wait(timeout: nil, onTimeout: -1) { 3 } == 3)
        #expect(try waiters.waitBlocking(timeout: nil, onTimeout: -1) { 4 } == 4)
        #expect(waiters.count == 0)
    }

    @Test("a deadline ends one wait with the timeout value; the others keep waiting")
    func deadlines() async throws {
        let waiters = Waiters<Int>()
        let long = Task { try await waiters.wait(timeout: nil, onTimeout: -1) { nil } }
        #expect(try await waiters.wait(timeout: .milliseconds(20), onTimeout: -1) { nil } == -1)
        #expect(try waiters.waitBlocking(timeout: .milliseconds(20), onTimeout: -2) { nil } == -2)
        try await eventuallyAsync("the long waiter registered") { waiters.count == 1 }
        waiters.resumeAll(with: 5)
        #expect(try await long.value == 5)
    }

    @Test("cancelling a task ends its wait with CancellationError, before or during the wait; others stay")
    func cancellation() async throws {
        let waiters = Waiters<Int>()
        let other = Task { try await waiters.wait(timeout: nil, onTimeout: -1) { nil } }
        let cancelled = Task { try await waiters.wait(timeout: nil, onTimeout: -1) { nil } }
        try await eventuallyAsync("two waiters registered") { waiters.count == 2 }
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await waiters.wait(timeout: nil, onTimeout: -1) { nil }
        }
        await #expect(throws: CancellationError.self) { try await early.value }
        #expect(waiters.count == 1)
        waiters.resumeAll(with: 1)
        #expect(try await other.value == 1)
    }

    @Test("close wakes every waiter with its error, and later waits throw it at once")
    func close() async throws {
        let waiters = Waiters<Int>()
        let task = Task { try await waiters.wait(timeout: nil, onTimeout: -1) { nil } }
        let thread = Mutex<Result<Int, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            thread.withLock { $0 = Result { try waiters.waitBlocking(timeout: nil, onTimeout: -1) { nil } } }
            done.signal()
        }
        try await eventuallyAsync("two waiters registered") { waiters.count == 2 }
        waiters.close(with: .closed)
        await #expect(throws: KafkaError.closed) { try await task.value }
        done.wait()
        #expect(throws: KafkaError.closed) { try thread.withLock { $0 }?.get() }
        await #expect(throws: KafkaError.closed) { try await waiters.wait(timeout: nil, onTimeout: -1) { 1 } }
        #expect(throws: KafkaError.closed) { try waiters.waitBlocking(timeout: nil, onTimeout: -1) { 1 } }
    }

    @Test("resume, deadline, cancellation and close racing: every wait ends exactly once", arguments: 0..<4)
    func races(round: Int) async throws {
        let waiters = Waiters<Int>()
        let ended = EndedCount()
        let count = 200
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<count {
                group.addTask {
                    let task = Task { try await waiters.wait(timeout: .microseconds(index % 7 * 50), onTimeout: -1) { nil } }
                    if index % 3 == 0 { task.cancel() }
                    _ = try? await task.value
                    ended.value.add(1, ordering: .relaxed)
                }
            }
            group.addTask {
                for value in 0..<50 {
                    waiters.resumeAll(with: value)
                    await Task.yield()
                }
                if round % 2 == 0 { waiters.close(with: .closed) }
            }
            try await group.waitForAll()
        }
        #expect(ended.value.load(ordering: .relaxed) == count)
        #expect(waiters.count == 0)
    }
}

/// Waits up to ten seconds for `condition`, polling other tasks' progress.
func eventuallyAsync(_ what: String, _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(10)
    while !condition() {
        guard ContinuousClock.now < deadline else { throw WaitFailure(what: what, limit: .seconds(10)) }
        try await Task.sleep(for: .milliseconds(2))  // polling another task's progress
    }
}

/// How many waits ended, shared by the tasks of a race.
final class EndedCount: Sendable {
    let value = Atomic<Int>(0)
}
