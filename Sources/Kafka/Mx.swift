import Foundation
import Synchronization

/// Merges many consumers into one stream: Go's `kafka.Mx`.
///
/// One worker per consumer (as Go's one goroutine per consumer) reads from
/// its consumer and hands results over when ``consume()-72cgh`` asks. Workers of
/// ``BrokerConsumer``s and ``GroupConsumer``s are tasks on one shared thread
/// (their reads wait on librdkafka's queue events), so an Mx over 64
/// partitions adds no thread per partition; workers of other consumers are
/// threads of their own.
/// A consumer that throws `KafkaError.noData` leaves the set; other errors
/// are passed through and its worker goes on. When the last worker leaves,
/// the Mx closes itself and ``consume()-72cgh`` throws `KafkaError.mxClosed`. An Mx
/// over no consumers never closes by itself (as Go's).
///
/// Workers read a ``BatchConsumer`` one fetch at a time with `consumeBatch()`
/// (other consumers one message at a time) and hold that fetch until it is
/// handed out, so a hand-over costs a lock, not a thread switch, per message.
/// Per-consumer order is kept. Workers never use the cooperative pool, so a
/// blocking ``consume()-72cgh`` called from a task cannot starve them.
///
/// ``close()`` does not close the merged consumers, returns without waiting
/// for workers blocked inside them, and drops what they fetched but did not
/// hand out (at most one fetch per worker; Go dropped at most one message).
public final class Mx: Consumer, AsyncSequence {
    public typealias Element = Message
    public typealias AsyncIterator = ConsumerIterator<Mx>

    /// A caller waiting for a result: finished, under the state's lock, with the result handed to it.
    private typealias Waiter = Completion<Message>

    /// A worker's fetch waiting to be handed out, and the worker waiting for it to be.
    private struct Parked {
        var messages: ArraySlice<Message>
        var error: (any Error)?
        /// Finished when the fetch is used up or the Mx closes: the worker reads again.
        let worker: Completion<Bool>
    }

    private struct State {
        var closed = false
        var liveWorkers: Int
        var parked: [Parked] = []
        var waiters: [Waiter] = []

        /// The next result from the parked fetches, waking a worker whose fetch is used up.
        mutating func takeParked() -> Result<Message, any Error>? {
            guard !parked.isEmpty else { return nil }
            if let error = parked[0].error {
                parked.removeFirst().worker.finish(.success(true))
                return .failure(error)
            }
            let message = parked[0].messages.removeFirst()
            if parked[0].messages.isEmpty { parked.removeFirst().worker.finish(.success(true)) }
            return .success(message)
        }
    }

    private let state: Mutex<State>

    private init(workers: Int) {
        state = Mutex(State(liveWorkers: workers))
    }

    /// Merges `consumers` and starts their workers at once: tasks on one shared thread for
    /// ``BrokerConsumer``s and ``GroupConsumer``s, a thread each for other consumers.
    public static func merge(_ consumers: [any Consumer]) -> Mx {
        let mx = Mx(workers: consumers.count)
        for (index, consumer) in consumers.enumerated() {
            if let eventDriven = consumer as? any EventDrivenConsumer {
                Task(executorPreference: MxExecutor.shared) { await mx.work(eventDriven) }
            } else {
                let worker = Thread { [mx] in mx.work(consumer) }
                worker.name = "kafka-mx-worker-\(index)"
                worker.start()
            }
        }
        return mx
    }

    /// Number of workers still running (Go's `Workers()`).
    public var workers: Int { state.withLock { $0.liveWorkers } }

    /// Returns the next message or error of any merged consumer, blocking the calling thread.
    /// - Throws: `KafkaError.mxClosed` once closed; any error a merged consumer threw (except noData).
    public func consume() throws -> Message {
        switch takeOrQueue() {
        case .ready(let result): return try result.get()
        case .queued(let waiter): return try waiter.waitBlocking()
        }
    }

    /// The `async` twin of ``consume()``: suspends without blocking a thread, on the caller's executor.
    /// A cancelled call throws `CancellationError` at once; no message is lost (it stays for the next call).
    nonisolated(nonsending) public func consume() async throws -> Message {
        try Task.checkCancellation()
        switch takeOrQueue() {
        case .ready(let result):
            return try result.get()
        case .queued(let waiter):
            do {
                return try await waiter.wait()
            } catch is CancellationError {
                // Leave the line; a result handed over as the task was cancelled is returned, not lost.
                let handed: Result<Message, any Error>? = state.withLock { state in
                    guard let index = state.waiters.firstIndex(where: { $0 === waiter }) else { return waiter.result }
                    state.waiters.remove(at: index)
                    return nil
                }
                guard let handed else { throw CancellationError() }
                return try handed.get()
            }
        }
    }

    private enum TakeOrQueue {
        case ready(Result<Message, any Error>)
        case queued(Waiter)
    }

    /// A parked result, or a place in the line of waiting callers.
    private func takeOrQueue() -> TakeOrQueue {
        state.withLock { state in
            if state.closed { return .ready(.failure(KafkaError.mxClosed)) }
            if let result = state.takeParked() { return .ready(result) }
            let waiter = Waiter()
            state.waiters.append(waiter)
            return .queued(waiter)
        }
    }

    /// Iterates with the `async` ``consume()-8r1ov``; ends when the Mx closes.
    public func makeAsyncIterator() -> ConsumerIterator<Mx> {
        ConsumerIterator(self)
    }

    /// Closes the multiplexer: waiting and later ``consume()-72cgh`` calls throw
    /// `KafkaError.mxClosed`; workers stop after their current read.
    /// Idempotent, safe from any thread, does not wait for workers.
    public func close() {
        state.withLock { state in
            guard !state.closed else { return }
            state.closed = true
            for waiter in state.waiters { waiter.finish(.failure(KafkaError.mxClosed)) }
            for entry in state.parked { entry.worker.finish(.success(true)) }
            state.waiters.removeAll()
            state.parked.removeAll()
        }
    }

    private func work(_ consumer: any Consumer) {
        let batches = consumer as? any BatchConsumer
        while !state.withLock({ $0.closed }) {
            let fetched: Result<[Message], any Error>
            do {
                fetched = .success(try batches?.consumeBatch() ?? [consumer.consume()])
            } catch KafkaError.noData {
                break
            } catch {
                fetched = .failure(error)
            }
            let parking = Completion<Bool>()
            if handOver(fetched, parking: parking) { _ = try? parking.waitBlocking() }  // consume() or close() finishes it
        }
        workerEnded()
    }

    /// The task form of ``work(_:)``, for consumers whose `async` reads suspend without blocking.
    private func work(_ consumer: any EventDrivenConsumer) async {
        while !state.withLock({ $0.closed }) {
            let fetched: Result<[Message], any Error>
            do {
                fetched = .success(try await consumer.consumeBatch())
            } catch KafkaError.noData {
                break
            } catch {
                fetched = .failure(error)
            }
            let parking = Completion<Bool>()
            // Worker tasks are never cancelled: the wait ends when the fetch is used up or at close.
            if handOver(fetched, parking: parking) { _ = try? await parking.wait() }
        }
        workerEnded()
    }

    private func workerEnded() {
        let last: Bool = state.withLock { state in
            state.liveWorkers -= 1
            return state.liveWorkers == 0 && !state.closed
        }
        if last { close() }
    }

    /// Gives results to waiting callers and parks the rest; true when the worker must wait
    /// until they are all handed out or the Mx closes (`parking` is then finished). Results are
    /// handed over under the lock, so a cancelled caller leaving the line finds its result.
    private func handOver(_ fetched: Result<[Message], any Error>, parking: Completion<Bool>) -> Bool {
        state.withLock { state in
            if state.closed { return false }
            var entry: Parked
            switch fetched {
            case .success(let messages): entry = Parked(messages: messages[...], error: nil, worker: parking)
            case .failure(let error): entry = Parked(messages: [], error: error, worker: parking)
            }
            while !state.waiters.isEmpty {
                if let error = entry.error {
                    state.waiters.removeFirst().finish(.failure(error))
                    return false
                }
                guard let message = entry.messages.popFirst() else { return false }
                state.waiters.removeFirst().finish(.success(message))
            }
            if entry.error == nil && entry.messages.isEmpty { return false }
            state.parked.append(entry)
            return true
        }
    }
}
