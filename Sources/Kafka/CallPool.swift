import Foundation
import Synchronization

/// The few threads that run librdkafka's blocking calls (watermarks, committed offsets,
/// metadata, synchronous commits, dials) for callers that must not block: `async` twins, and
/// blocking calls that ``NativeHandle/close()`` must be able to abandon.
///
/// At most ``limit`` threads, named `kafka-call`, started when work finds every thread busy and
/// kept parked afterwards; more calls than threads wait their turn in order. A call made from a
/// pool thread (an `async` twin whose blocking body makes another such call) runs inline, so
/// nested calls never wait for a thread their own caller holds.
final class CallPool: Sendable {
    /// The process's pool: 8 threads, so that a few calls abandoned to an unresponsive
    /// coordinator or broker (each runs until librdkafka gives up, up to its request timeout) do
    /// not stall every other call of the process (measured with 4: a test suite's abandoned
    /// commits and watermark queries held all four for over a minute).
    static let shared = CallPool(limit: 8)

    /// The most threads the pool runs.
    let limit: Int

    private struct State {
        var jobs: [@Sendable () -> Void] = []
        var next = 0
        var threads = 0
        var idle = 0
    }

    private let state = Mutex(State())
    private let work = Waiters<Bool>()

    init(limit: Int) {
        self.limit = Swift.max(1, limit)
    }

    /// How many threads the pool has started (for tests and diagnostics).
    var threadCount: Int { state.withLock { $0.threads } }

    /// Whether the calling thread is one of the pool's.
    static var isPoolThread: Bool { Thread.current.threadDictionary[poolThreadKey] != nil }

    /// Runs `job` on a pool thread, starting one when every thread is busy and the limit allows.
    func run(_ job: @escaping @Sendable () -> Void) {
        let startThread = state.withLock { state -> Bool in
            state.jobs.append(job)
            guard state.idle == 0, state.threads < limit else { return false }
            state.threads += 1
            return true
        }
        if startThread {
            let thread = Thread { [self] in serve() }
            thread.name = "kafka-call"
            thread.start()
        } else {
            work.resumeAll(with: true)
        }
    }

    /// Runs `body` on the pool and blocks until it returns; inline when already on a pool thread.
    func call<R: Sendable>(_ body: @escaping @Sendable () throws -> R) throws -> R {
        if Self.isPoolThread { return try body() }
        let completion = Completion<R>()
        run { completion.finish(Result { try body() }) }
        return try completion.waitBlocking()
    }

    /// A pool thread: takes jobs in order; parks (a thread waiter of ``Waiters``) while there are none.
    private func serve() {
        Thread.current.threadDictionary[Self.poolThreadKey] = true
        while true {
            let job: (@Sendable () -> Void)? = state.withLock { state in
                guard state.next < state.jobs.count else {
                    state.jobs.removeAll(keepingCapacity: true)
                    state.next = 0
                    state.idle += 1
                    return nil
                }
                defer { state.next += 1 }
                return state.jobs[state.next]
            }
            if let job {
                job()
                continue
            }
            _ = try? work.waitBlocking(timeout: nil, onTimeout: false) { state.withLock { $0.next < $0.jobs.count } ? true : nil }
            state.withLock { $0.idle -= 1 }
        }
    }

    private static let poolThreadKey = "kafka.call-pool"
}
