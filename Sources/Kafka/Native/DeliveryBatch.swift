import Crdkafka
import Synchronization
import Dispatch

/// Where one message's delivery report lands. librdkafka carries a pointer to
/// its slot as the message's opaque, so a report finds its message without a
/// per-message allocation: the slots of one produce call are one buffer.
struct DeliverySlot {
    var offset: Int64
    var error: Int32
    let batch: Unmanaged<DeliveryBatch>
}

/// The outstanding deliveries of one produce attempt, and whoever waits for them.
///
/// Lifetime: the batch is retained once when its messages are handed to
/// librdkafka and released when the last report arrives, or by the handle
/// after `rd_kafka_destroy` when reports never will.
final class DeliveryBatch: @unchecked Sendable {
    // Safe: a slot is written before `remaining` (an atomic, acquiring and
    // releasing) counts its arrival, and slots are read only after `remaining`
    // reached zero, or after the handle was destroyed.
    let slots: UnsafeMutablePointer<DeliverySlot>
    let count: Int

    private enum Waiter {
        case none
        case thread(DispatchSemaphore)
        case task(CheckedContinuation<Void, any Error>)
    }

    private struct State {
        var waiter: Waiter = .none
        var abandoned = false
    }

    /// Reports still to come; counted without the lock, which only the last report takes.
    private let remaining: Atomic<Int>
    private let state = Mutex(State())

    init(count: Int) {
        self.count = count
        self.slots = .allocate(capacity: count)
        self.remaining = Atomic(count)
        let unmanaged = Unmanaged.passUnretained(self)
        for index in 0..<count {
            (slots + index).initialize(to: DeliverySlot(offset: -1, error: 0, batch: unmanaged))
        }
    }

    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }

    /// Marks `count` reports as arrived; wakes the waiter after the last.
    /// Returns true when this was the last report.
    @discardableResult
    func arrived(_ count: Int) -> Bool {
        guard remaining.subtract(count, ordering: .acquiringAndReleasing).newValue == 0 else { return false }
        let waiter: Waiter = state.withLock {
            let waiter = $0.waiter
            $0.waiter = .none
            return waiter
        }
        wake(waiter)
        return true
    }

    /// Wakes the waiter early, at close; reports that arrive later are still recorded safely.
    func abandon() {
        let waiter: Waiter = state.withLock {
            $0.abandoned = true
            let waiter = $0.waiter
            $0.waiter = .none
            return waiter
        }
        wake(waiter)
    }

    var isAbandoned: Bool { state.withLock { $0.abandoned } }

    /// Blocks the calling thread until every report arrived or the batch was abandoned.
    func waitBlocking() {
        let semaphore: DispatchSemaphore? = state.withLock {
            guard remaining.load(ordering: .acquiring) > 0, !$0.abandoned else { return nil }
            let semaphore = DispatchSemaphore(value: 0)
            $0.waiter = .thread(semaphore)
            return semaphore
        }
        semaphore?.wait()
    }

    /// Suspends until every report arrived or the batch was abandoned.
    /// - Throws: `CancellationError` as soon as the waiting task is cancelled; the reports
    ///   still arrive and are recorded, and the batch is retired as usual.
    func wait() async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let ready: Bool = state.withLock {
                    guard remaining.load(ordering: .acquiring) > 0, !$0.abandoned, !Task.isCancelled else { return true }
                    $0.waiter = .task(continuation)
                    return false
                }
                if ready { continuation.resume() }
            }
            if remaining.load(ordering: .acquiring) > 0 && !isAbandoned { try Task.checkCancellation() }
        } onCancel: {
            let waiter: Waiter = state.withLock { state in
                guard case .task = state.waiter else { return .none }
                defer { state.waiter = .none }
                return state.waiter
            }
            if case .task(let continuation) = waiter { continuation.resume(throwing: CancellationError()) }
        }
    }

    /// Forgets a batch whose last report arrived: drops it from the handle's
    /// registry and releases the retain taken when its messages were enqueued.
    ///
    /// Whoever removes a batch from the registry owns that retain: here, or
    /// the handle's close, which releases the batches still registered after
    /// `rd_kafka_destroy`. A batch that close already released (its last
    /// messages were refused after the handle closed) is not released again.
    static func retire(_ batch: Unmanaged<DeliveryBatch>, context: HandleContext?) {
        guard let context else {
            batch.release()
            return
        }
        let removed = context.deliveries.withLock { $0.removeValue(forKey: ObjectIdentifier(batch.takeUnretainedValue())) }
        if removed != nil { batch.release() }
    }

    private func wake(_ waiter: Waiter) {
        switch waiter {
        case .none: break
        case .thread(let semaphore): semaphore.signal()
        case .task(let continuation): continuation.resume()
        }
    }
}
