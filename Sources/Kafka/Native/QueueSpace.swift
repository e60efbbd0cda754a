import Synchronization

/// Tells producers waiting for room in librdkafka's queue that room may have appeared.
///
/// Room appears when delivery reports are served: librdkafka frees a
/// message after its report's callback ran. Whatever serves reports calls
/// ``signal()`` after every `rd_kafka_poll` that served something: the
/// handle's poll thread, and a produce call that serves the reports already
/// in before it waits; closing the handle signals once more. A waiter
/// therefore sleeps until the next served batch of reports instead of
/// polling librdkafka in short steps, and an `async` waiter suspends instead
/// of blocking a thread of the cooperative pool.
///
/// Waiting is race-free through a generation count: read ``generation``,
/// check the queue, then wait for a generation after the one read; a signal
/// in between makes the wait return at once. A use of ``Waiters``.
final class QueueSpace: Sendable {
    private let current = Atomic<UInt64>(0)
    private let waiters = Waiters<Bool>()

    /// The number of signals so far; pass it to a wait made after checking the queue.
    var generation: UInt64 { current.load(ordering: .acquiring) }

    /// Wakes every waiter: reports were served, or the handle is closing.
    func signal() {
        current.add(1, ordering: .releasing)
        waiters.resumeAll(with: true)
    }

    /// Blocks the calling thread until a signal after `seen`.
    func waitBlocking(after seen: UInt64) {
        _ = try? waiters.waitBlocking(timeout: nil, onTimeout: false) { generation != seen ? true : nil }
    }

    /// Suspends until a signal after `seen`, without blocking a thread.
    /// - Throws: `CancellationError` as soon as the waiting task is cancelled.
    func wait(after seen: UInt64) async throws {
        _ = try await waiters.wait(timeout: nil, onTimeout: false) { generation != seen ? true : nil }
    }
}
