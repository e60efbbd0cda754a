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
/// in between makes the wait return at once.
final class QueueSpace: @unchecked Sendable {
    // Safe: `current`, `suspended` and `nextWaiter` are only touched with `lock` held.
    private let lock = ConditionLock()
    private var current: UInt64 = 0
    private var suspended: [UInt64: CheckedContinuation<Void, any Error>] = [:]
    private var nextWaiter: UInt64 = 0

    /// The number of signals so far; pass it to a wait made after checking the queue.
    var generation: UInt64 { lock.withLock { current } }

    /// Wakes every waiter: reports were served, or the handle is closing.
    func signal() {
        let resumed: [CheckedContinuation<Void, any Error>] = lock.withLock {
            current &+= 1
            lock.broadcast()
            defer { suspended.removeAll() }
            return Array(suspended.values)
        }
        for continuation in resumed { continuation.resume() }
    }

    /// Blocks the calling thread until a signal after `seen`.
    func waitBlocking(after seen: UInt64) {
        lock.withLock { lock.wait { current != seen } }
    }

    /// Suspends until a signal after `seen`, without blocking a thread.
    /// - Throws: `CancellationError` as soon as the waiting task is cancelled.
    func wait(after seen: UInt64) async throws {
        let waiter = lock.withLock { () -> UInt64 in
            nextWaiter &+= 1
            return nextWaiter
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let ready: Bool = lock.withLock {
                    guard current == seen, !Task.isCancelled else { return true }
                    suspended[waiter] = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            let cancelled = lock.withLock { suspended.removeValue(forKey: waiter) }
            cancelled?.resume(throwing: CancellationError())
        }
        try Task.checkCancellation()
    }
}
