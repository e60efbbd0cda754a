import KafkaProto

/// Takes turns at enqueuing to one partition, so that one produce call's messages are
/// handed to librdkafka together and reach the log contiguously (Go's contract: a call's
/// messages are written together), while calls to other partitions, and the waits for
/// acknowledgements, go on in parallel.
///
/// A turn lasts one attempt's enqueue, waits for room in librdkafka's queue included; it is
/// handed to the next caller of the same partition in arrival order. Blocking callers wait
/// on a condition, `async` ones suspend.
final class PartitionTurns: @unchecked Sendable {
    // Safe: `queues`, `granted` and `nextTicket` are only touched with `lock` held.
    private let lock = ConditionLock()
    /// Partitions whose turn is taken, with the callers waiting for it in arrival order.
    private var queues: [TopicPartitionKey: [Waiter]] = [:]
    /// Tickets of blocking callers whose turn came.
    private var granted: Set<UInt64> = []
    private var nextTicket: UInt64 = 0

    private enum Waiter {
        case thread(UInt64)
        case task(UInt64, CheckedContinuation<Void, any Error>)

        var ticket: UInt64 {
            switch self {
            case .thread(let ticket), .task(let ticket, _): ticket
            }
        }
    }

    /// Blocks until the caller holds the turn of `key`.
    func acquireBlocking(_ key: TopicPartitionKey) {
        lock.withLock {
            guard queues[key] != nil else {
                queues[key] = []
                return
            }
            nextTicket &+= 1
            let ticket = nextTicket
            queues[key, default: []].append(.thread(ticket))
            lock.wait { granted.contains(ticket) }
            granted.remove(ticket)
        }
    }

    /// Suspends until the caller holds the turn of `key`.
    /// - Throws: `CancellationError` when the task is cancelled while waiting (it then holds no turn).
    func acquire(_ key: TopicPartitionKey) async throws {
        let ticket: UInt64 = lock.withLock {
            nextTicket &+= 1
            return nextTicket
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Outcome { case holding, queued, cancelled }
                // Checking for a free turn and queueing happen in one locked section: a turn freed
                // between them would otherwise leave this task queued behind nobody (a hang, found
                // under ThreadSanitizer's slower scheduling).
                let outcome: Outcome = lock.withLock {
                    guard queues[key] != nil else {
                        queues[key] = []
                        return .holding
                    }
                    if Task.isCancelled { return .cancelled }
                    queues[key, default: []].append(.task(ticket, continuation))
                    return .queued
                }
                switch outcome {
                case .holding: continuation.resume()
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .queued: break
                }
            }
        } onCancel: {
            let waiter: Waiter? = lock.withLock {
                guard let index = queues[key]?.firstIndex(where: { $0.ticket == ticket }) else { return nil }
                return queues[key]?.remove(at: index)
            }
            if case .task(_, let continuation) = waiter { continuation.resume(throwing: CancellationError()) }
        }
    }

    /// Ends the caller's turn of `key` and hands it to the next waiter, if any.
    func release(_ key: TopicPartitionKey) {
        let next: Waiter? = lock.withLock {
            guard var waiting = queues[key], !waiting.isEmpty else {
                queues[key] = nil
                return nil
            }
            let next = waiting.removeFirst()
            queues[key] = waiting
            if case .thread(let ticket) = next {
                granted.insert(ticket)
                lock.broadcast()
            }
            return next
        }
        if case .task(_, let continuation) = next { continuation.resume() }
    }
}
