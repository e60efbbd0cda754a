import Synchronization

/// Takes turns at enqueuing to one partition, so that one produce call's messages are
/// handed to librdkafka together and reach the log contiguously (Go's contract: a call's
/// messages are written together), while calls to other partitions, and the waits for
/// acknowledgements, go on in parallel.
///
/// A turn lasts one attempt's enqueue, waits for room in librdkafka's queue included; it is
/// handed to the next caller of the same partition in arrival order. A caller that finds the
/// turn taken queues a ``Completion`` (a use of ``Waiters``), which the turn's holder finishes
/// when it hands the turn on; a thread blocks on it, a task suspends.
final class PartitionTurns: Sendable {
    /// Partitions whose turn is taken, with the callers waiting for it in arrival order.
    private let queues = Mutex<[TopicPartitionKey: [Completion<Bool>]]>([:])

    /// Takes the turn of `key` when it is free; otherwise queues the caller and returns what it waits on.
    private func enqueue(_ key: TopicPartitionKey) -> Completion<Bool>? {
        queues.withLock { queues -> Completion<Bool>? in
            guard queues[key] != nil else {
                queues[key] = []
                return nil
            }
            let turn = Completion<Bool>()
            queues[key, default: []].append(turn)
            return turn
        }
    }

    /// Blocks until the caller holds the turn of `key`.
    func acquireBlocking(_ key: TopicPartitionKey) {
        guard let turn = enqueue(key) else { return }
        _ = try? turn.waitBlocking()
    }

    /// Suspends until the caller holds the turn of `key`.
    /// - Throws: `CancellationError` when the task is cancelled while waiting (it then holds no turn).
    func acquire(_ key: TopicPartitionKey) async throws {
        try Task.checkCancellation()
        guard let turn = enqueue(key) else { return }
        do {
            _ = try await turn.wait()
        } catch {
            // Leave the line; a turn handed over as the task was cancelled is handed on.
            let queued = queues.withLock { queues -> Bool in
                guard let index = queues[key]?.firstIndex(where: { $0 === turn }) else { return false }
                queues[key]?.remove(at: index)
                return true
            }
            if !queued { release(key) }
            throw error
        }
    }

    /// Ends the caller's turn of `key` and hands it to the next waiter, if any.
    func release(_ key: TopicPartitionKey) {
        let next: Completion<Bool>? = queues.withLock { queues in
            guard var waiting = queues[key], !waiting.isEmpty else {
                queues[key] = nil
                return nil
            }
            let next = waiting.removeFirst()
            queues[key] = waiting
            return next
        }
        next?.finish(.success(true))
    }
}
