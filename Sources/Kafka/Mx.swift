import Dispatch
import Synchronization

/// Merges many consumers into one stream: Go's `kafka.Mx`.
///
/// One worker task per consumer calls its `async` `consume()` and hands each
/// result (message or error) over when ``consume()`` asks, holding at most
/// one result at a time, so per-consumer order is kept. A consumer that
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
        let worker: CheckedContinuation<Void, Never>
    }

    private struct State {
        var closed = false
        var liveWorkers: Int
        var parked: [Parked] = []
        var waiters: [Waiter] = []
        var tasks: [Task<Void, Never>] = []
    }

    private let state: Mutex<State>

    private init(workers: Int) {
        state = Mutex(State(liveWorkers: workers))
    }

    /// Merges `consumers` and starts one worker per consumer at once.
    public static func merge(_ consumers: [any Consumer]) -> Mx {
        let mx = Mx(workers: consumers.count)
        let tasks = consumers.map { consumer in
            Task.detached { [mx] in await mx.work(consumer) }
        }
        mx.state.withLock { $0.tasks = tasks }
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
                parked.worker.resume()
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
                    parked.worker.resume()
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
        let (waiters, parked, tasks): ([Waiter], [Parked], [Task<Void, Never>]) = state.withLock { state in
            guard !state.closed else { return ([], [], []) }
            state.closed = true
            defer {
                state.waiters.removeAll()
                state.parked.removeAll()
            }
            return (state.waiters, state.parked, state.tasks)
        }
        for waiter in waiters { Self.deliver(.failure(KafkaError.mxClosed), to: waiter) }
        for entry in parked { entry.worker.resume() }
        for task in tasks { task.cancel() }
    }

    private func work(_ consumer: any Consumer) async {
        while !state.withLock({ $0.closed }) {
            let result: Result<Message, any Error>
            do {
                result = .success(try await consumer.consume())
            } catch KafkaError.noData {
                break
            } catch {
                result = .failure(error)
            }
            await handOver(result)
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

    /// Gives `result` to a waiting caller, or parks until one takes it or the Mx closes.
    private func handOver(_ result: Result<Message, any Error>) async {
        await withCheckedContinuation { (worker: CheckedContinuation<Void, Never>) in
            let outcome: HandOver = state.withLock { state in
                if state.closed { return .dropped }
                if !state.waiters.isEmpty { return .taken(state.waiters.removeFirst()) }
                state.parked.append(Parked(result: result, worker: worker))
                return .parked
            }
            switch outcome {
            case .dropped:
                worker.resume()
            case .taken(let waiter):
                Self.deliver(result, to: waiter)
                worker.resume()
            case .parked:
                break  // consume() or close() resumes the worker
            }
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
