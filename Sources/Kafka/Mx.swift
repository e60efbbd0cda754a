import Dispatch
import Foundation
import Synchronization

/// Merges many consumers into one stream: Go's `kafka.Mx`.
///
/// One worker thread per consumer (as Go's one goroutine per consumer) calls
/// its blocking `consume()` and hands each result (message or error) over
/// when ``consume()`` asks, holding at most one result at a time, so
/// per-consumer order is kept. Workers never use the cooperative pool, so a
/// blocking ``consume()`` called from a task cannot starve them. A consumer that
/// throws ``KafkaError/noData`` leaves the set; other errors are passed
/// through and its worker goes on. When the last worker leaves, the Mx
/// closes itself and ``consume()`` throws ``KafkaError/mxClosed``. An Mx
/// over no consumers never closes by itself (as Go's).
///
/// ``close()`` does not close the merged consumers, returns without waiting
/// for workers blocked inside them, and drops results fetched but not yet handed out.
public final class Mx: Consumer, AsyncSequence {
    public typealias Element = Message
    public typealias AsyncIterator = ConsumerIterator<Mx>

    private enum Waiter {
        case thread(DispatchSemaphore, Slot)
        case task(CheckedContinuation<Result<Message, any Error>, Never>)
    }

    /// Where a blocked thread receives its result.
    private final class Slot: @unchecked Sendable {
        // Safe: written before the semaphore is signalled, read after it is waited on.
        var result: Result<Message, any Error> = .failure(KafkaError.mxClosed)
    }

    private struct Parked {
        let result: Result<Message, any Error>
        let worker: DispatchSemaphore
    }

    private struct State {
        var closed = false
        var liveWorkers: Int
        var parked: [Parked] = []
        var waiters: [Waiter] = []
    }

    private let state: Mutex<State>

    private init(workers: Int) {
        state = Mutex(State(liveWorkers: workers))
    }

    /// Merges `consumers` and starts one worker per consumer at once.
    public static func merge(_ consumers: [any Consumer]) -> Mx {
        let mx = Mx(workers: consumers.count)
        for (index, consumer) in consumers.enumerated() {
            let worker = Thread { [mx] in mx.work(consumer) }
            worker.name = "kafka-mx-worker-\(index)"
            worker.start()
        }
        return mx
    }

    /// Number of workers still running (Go's `Workers()`).
    public var workers: Int { state.withLock { $0.liveWorkers } }

    /// Returns the next message or error of any merged consumer, blocking the calling thread.
    /// - Throws: ``KafkaError/mxClosed`` once closed; any error a merged consumer threw (except noData).
    public func consume() throws -> Message {
        let slot = Slot()
        let semaphore = DispatchSemaphore(value: 0)
        let immediate: Result<Message, any Error>? = state.withLock { state in
            if state.closed { return .failure(KafkaError.mxClosed) }
            if !state.parked.isEmpty {
                let parked = state.parked.removeFirst()
                parked.worker.signal()
                return parked.result
            }
            state.waiters.append(.thread(semaphore, slot))
            return nil
        }
        if let immediate { return try immediate.get() }
        semaphore.wait()
        return try slot.result.get()
    }

    /// The `async` twin of ``consume()``: suspends without blocking a thread.
    public func consume() async throws -> Message {
        let result: Result<Message, any Error> = await withCheckedContinuation { continuation in
            let immediate: Result<Message, any Error>? = state.withLock { state in
                if state.closed { return .failure(KafkaError.mxClosed) }
                if !state.parked.isEmpty {
                    let parked = state.parked.removeFirst()
                    parked.worker.signal()
                    return parked.result
                }
                state.waiters.append(.task(continuation))
                return nil
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
        return try result.get()
    }

    /// Iterates with the `async` ``consume()``; ends when the Mx closes.
    public func makeAsyncIterator() -> ConsumerIterator<Mx> {
        ConsumerIterator(self)
    }

    /// Closes the multiplexer: waiting and later ``consume()`` calls throw
    /// ``KafkaError/mxClosed``; workers stop after their current consume.
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
        while !state.withLock({ $0.closed }) {
            let result: Result<Message, any Error>
            do {
                result = .success(try consumer.consume())
            } catch KafkaError.noData {
                break
            } catch {
                result = .failure(error)
            }
            handOver(result)
        }
        let last: Bool = state.withLock { state in
            state.liveWorkers -= 1
            return state.liveWorkers == 0 && !state.closed
        }
        if last { close() }
    }

    private enum HandOver {
        case dropped
        case taken(Waiter)
        case parked
    }

    /// Gives `result` to a waiting caller, or parks the worker thread until one takes it or the Mx closes.
    private func handOver(_ result: Result<Message, any Error>) {
        let parking = DispatchSemaphore(value: 0)
        let outcome: HandOver = state.withLock { state in
            if state.closed { return .dropped }
            if !state.waiters.isEmpty { return .taken(state.waiters.removeFirst()) }
            state.parked.append(Parked(result: result, worker: parking))
            return .parked
        }
        switch outcome {
        case .dropped: break
        case .taken(let waiter): Self.deliver(result, to: waiter)
        case .parked: parking.wait()  // consume() or close() signals it
        }
    }

    private static func deliver(_ result: Result<Message, any Error>, to waiter: Waiter) {
        switch waiter {
        case .thread(let semaphore, let slot):
            slot.result = result
            semaphore.signal()
        case .task(let continuation):
            continuation.resume(returning: result)
        }
    }
}
