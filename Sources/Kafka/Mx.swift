import Dispatch
import Foundation
import Synchronization

/// Merges many consumers into one stream: Go's `kafka.Mx`.
///
/// One worker per consumer (as Go's one goroutine per consumer) reads from
/// its consumer and hands results over when ``consume()`` asks. Workers of
/// ``BrokerConsumer``s and ``GroupConsumer``s are tasks on one shared thread
/// (their reads wait on librdkafka's queue events), so an Mx over 64
/// partitions adds no thread per partition; workers of other consumers are
/// threads of their own.
/// A consumer that throws ``KafkaError/noData`` leaves the set; other errors
/// are passed through and its worker goes on. When the last worker leaves,
/// the Mx closes itself and ``consume()`` throws ``KafkaError/mxClosed``. An Mx
/// over no consumers never closes by itself (as Go's).
///
/// Workers read a ``BatchConsumer`` one fetch at a time with `consumeBatch()`
/// (other consumers one message at a time) and hold that fetch until it is
/// handed out, so a hand-over costs a lock, not a thread switch, per message.
/// Per-consumer order is kept. Workers never use the cooperative pool, so a
/// blocking ``consume()`` called from a task cannot starve them.
///
/// ``close()`` does not close the merged consumers, returns without waiting
/// for workers blocked inside them, and drops what they fetched but did not
/// hand out (at most one fetch per worker; Go dropped at most one message).
public final class Mx: Consumer, AsyncSequence {
    public typealias Element = Message
    public typealias AsyncIterator = ConsumerIterator<Mx>

    private enum Waiter {
        case thread(DispatchSemaphore, Slot)
        case task(UInt64, CheckedContinuation<Result<Message, any Error>, Never>)
    }

    /// Where a blocked thread receives its result.
    private final class Slot: @unchecked Sendable {
        // Safe: written before the semaphore is signalled, read after it is waited on.
        var result: Result<Message, any Error> = .failure(KafkaError.mxClosed)
    }

    /// A worker's fetch waiting to be handed out, and the worker waiting for it to be.
    private struct Parked {
        var messages: ArraySlice<Message>
        var error: (any Error)?
        let worker: ParkedWorker
    }

    /// How a parked worker is woken: a thread's semaphore or a task's continuation.
    private enum ParkedWorker {
        case thread(DispatchSemaphore)
        case task(CheckedContinuation<Void, Never>)

        func signal() {
            switch self {
            case .thread(let semaphore): semaphore.signal()
            case .task(let continuation): continuation.resume()
            }
        }
    }

    private struct State {
        var closed = false
        var liveWorkers: Int
        var parked: [Parked] = []
        var waiters: [Waiter] = []
        var nextTicket: UInt64 = 0

        /// The next result from the parked fetches, waking a worker whose fetch is used up.
        mutating func takeParked() -> Result<Message, any Error>? {
            guard !parked.isEmpty else { return nil }
            if let error = parked[0].error {
                parked.removeFirst().worker.signal()
                return .failure(error)
            }
            let message = parked[0].messages.removeFirst()
            if parked[0].messages.isEmpty { parked.removeFirst().worker.signal() }
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
    /// - Throws: ``KafkaError/mxClosed`` once closed; any error a merged consumer threw (except noData).
    public func consume() throws -> Message {
        if let ready = state.withLock({ $0.closed ? .failure(KafkaError.mxClosed) : $0.takeParked() }) {
            return try ready.get()
        }
        let slot = Slot()
        let semaphore = DispatchSemaphore(value: 0)
        let immediate: Result<Message, any Error>? = state.withLock { state in
            if state.closed { return .failure(KafkaError.mxClosed) }
            if let result = state.takeParked() { return result }
            state.waiters.append(.thread(semaphore, slot))
            return nil
        }
        if let immediate { return try immediate.get() }
        semaphore.wait()
        return try slot.result.get()
    }

    /// The `async` twin of ``consume()``: suspends without blocking a thread, on the caller's executor.
    /// A cancelled call throws `CancellationError` at once; no message is lost (it stays for the next call).
    nonisolated(nonsending) public func consume() async throws -> Message {
        if let ready = state.withLock({ $0.closed ? .failure(KafkaError.mxClosed) : $0.takeParked() }) {
            return try ready.get()
        }
        let ticket = state.withLock { state -> UInt64 in
            state.nextTicket &+= 1
            return state.nextTicket
        }
        let result: Result<Message, any Error> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let immediate: Result<Message, any Error>? = state.withLock { state in
                    if state.closed { return .failure(KafkaError.mxClosed) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if let result = state.takeParked() { return result }
                    state.waiters.append(.task(ticket, continuation))
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let cancelled: Waiter? = state.withLock { state in
                guard let index = state.waiters.firstIndex(where: { if case .task(ticket, _) = $0 { true } else { false } }) else { return nil }
                return state.waiters.remove(at: index)
            }
            if let cancelled { Self.deliver(.failure(CancellationError()), to: cancelled) }
        }
        return try result.get()
    }

    /// Iterates with the `async` ``consume()``; ends when the Mx closes.
    public func makeAsyncIterator() -> ConsumerIterator<Mx> {
        ConsumerIterator(self)
    }

    /// Closes the multiplexer: waiting and later ``consume()`` calls throw
    /// ``KafkaError/mxClosed``; workers stop after their current read.
    /// Idempotent, safe from any thread, does not wait for workers.
    public func close() {
        let (waiters, parked): ([Waiter], [Parked]) = state.withLock { state in
            guard !state.closed else { return ([], []) }
            state.closed = true
            defer {
                state.waiters.removeAll()
                state.parked.removeAll()
            }
            return (state.waiters, state.parked)
        }
        for waiter in waiters { Self.deliver(.failure(KafkaError.mxClosed), to: waiter) }
        for entry in parked { entry.worker.signal() }
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
            let parking = DispatchSemaphore(value: 0)
            if handOver(fetched, parking: .thread(parking)) { parking.wait() }  // consume() or close() signals it
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
            await withCheckedContinuation { (parking: CheckedContinuation<Void, Never>) in
                if !handOver(fetched, parking: .task(parking)) { parking.resume() }
            }
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
    /// until they are all handed out or the Mx closes (`parking` is then signalled).
    private func handOver(_ fetched: Result<[Message], any Error>, parking: ParkedWorker) -> Bool {
        var handed: [(Waiter, Result<Message, any Error>)] = []
        let mustWait: Bool = state.withLock { state in
            if state.closed { return false }
            var entry: Parked
            switch fetched {
            case .success(let messages): entry = Parked(messages: messages[...], error: nil, worker: parking)
            case .failure(let error): entry = Parked(messages: [], error: error, worker: parking)
            }
            while !state.waiters.isEmpty {
                if let error = entry.error {
                    handed.append((state.waiters.removeFirst(), .failure(error)))
                    return false
                }
                guard let message = entry.messages.popFirst() else { return false }
                handed.append((state.waiters.removeFirst(), .success(message)))
            }
            if entry.error == nil && entry.messages.isEmpty { return false }
            state.parked.append(entry)
            return true
        }
        for (waiter, result) in handed { Self.deliver(result, to: waiter) }
        return mustWait
    }

    private static func deliver(_ result: Result<Message, any Error>, to waiter: Waiter) {
        switch waiter {
        case .thread(let semaphore, let slot):
            slot.result = result
            semaphore.signal()
        case .task(_, let continuation):
            continuation.resume(returning: result)
        }
    }
}
