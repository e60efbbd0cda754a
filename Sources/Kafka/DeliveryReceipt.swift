import Synchronization

/// Where a record was written: what a ``DeliveryReceipt`` resolves to.
public struct Delivery: Sendable, Equatable, CustomStringConvertible {
    /// The record's topic.
    public let topic: String
    /// The partition it was written to.
    public let partition: Int32
    /// Its offset in the partition; -1 when the broker did not report one.
    public let offset: Int64

    public var description: String { "\(topic)/\(partition)@\(offset)" }

    /// A delivery, as a receipt reports it (made by test doubles and adapters too).
    public init(topic: String, partition: Int32, offset: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }
}

/// The promise of one record's delivery, returned at once by ``Sender/send(_:to:partition:)-g4oo``.
///
/// Await it (``delivered()``) or wait for it (``wait()``) to learn the record's offset, or ignore
/// it: a failure also goes to ``SenderConf/onFailure`` (or the log), so an ignored receipt's error
/// never vanishes. Resolved exactly once: by the broker's acknowledgement, a delivery error
/// (librdkafka's code, e.g. its timeout once ``SenderConf/deliveryTimeout`` passed), or
/// `KafkaError.closed` when the sender closed before the record was delivered.
public final class DeliveryReceipt: Sendable {
    /// The record's topic.
    public let topic: String
    /// The partition the record was placed on, known at send.
    public let partition: Int32

    /// How the record ended and who waits for it. Everything a delivered, singly awaited receipt
    /// needs is trivial to store and destroy (the offset, one continuation); the rest sits in
    /// ``Uncommon``, made only when needed, so a receipt costs one allocation and a cheap
    /// destruction on the hot path.
    private struct State {
        var settled = false
        /// The offset of a delivery to ``topic``/``partition``.
        var offset: Int64 = -1
        /// The task awaiting the outcome, if one does: almost always the only one.
        var firstAwaiter: (id: UInt64, continuation: UnsafeContinuation<Delivery, any Error>)?
        var nextAwaiter: UInt64 = 0
        var uncommon: Uncommon?

        func outcome(topic: String, partition: Int32) -> Result<Delivery, KafkaError>? {
            guard settled else { return nil }
            if let failure = uncommon?.failure { return .failure(failure) }
            return .success(uncommon?.deliveredElsewhere ?? Delivery(topic: topic, partition: partition, offset: offset))
        }

        /// The part of the state a receipt rarely needs; made on first use.
        mutating func uncommonPart() -> Uncommon {
            if let uncommon { return uncommon }
            let made = Uncommon()
            uncommon = made
            return made
        }

        mutating func removeAwaiter(_ id: UInt64) -> UnsafeContinuation<Delivery, any Error>? {
            if let first = firstAwaiter, first.id == id {
                firstAwaiter = nil
                return first.continuation
            }
            return uncommon?.otherAwaiters.removeValue(forKey: id)
        }
    }

    /// A failure, a delivery reported elsewhere, further awaiters, blocked threads. Touched only
    /// with the receipt's lock held (it lives in ``State``).
    private final class Uncommon {
        var failure: KafkaError?
        /// A delivery reported by ``DeliveryReceipt/resolve(_:)`` elsewhere than the receipt's placement.
        var deliveredElsewhere: Delivery?
        /// Awaiting tasks beyond the first, by registration number.
        var otherAwaiters: [UInt64: UnsafeContinuation<Delivery, any Error>] = [:]
        /// Threads blocked in ``DeliveryReceipt/wait()``, made on the first.
        var blockedThreads: Waiters<Result<Delivery, KafkaError>>?
    }

    private let state = Mutex(State())

    /// A receipt for a record placed on `topic`/`partition`, resolved by whoever sends it: for test
    /// doubles and adapters (KafkaTest's `MockSender`); a ``Sender`` makes and resolves its own.
    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    /// Suspends until the record is delivered, without holding a thread.
    /// - Throws: the delivery's `KafkaError`; `CancellationError` when the task is cancelled (the
    ///   record's delivery goes on; a later call still learns its outcome).
    public func delivered() async throws -> Delivery {
        let known: Result<Delivery, KafkaError>?
        let id: UInt64
        (known, id) = state.withLock { state in
            state.nextAwaiter &+= 1
            return (state.outcome(topic: topic, partition: partition), state.nextAwaiter)
        }
        if let known { return try known.get() }
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Delivery, any Error>) in
                // Registered under the lock that resolution takes: an outcome set before is seen
                // here, one set after finds this continuation.
                let early: Result<Delivery, any Error>? = state.withLock { state in
                    if let outcome = state.outcome(topic: topic, partition: partition) { return outcome.mapError { $0 } }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if state.firstAwaiter == nil {
                        state.firstAwaiter = (id, continuation)
                    } else {
                        state.uncommonPart().otherAwaiters[id] = continuation
                    }
                    return nil
                }
                if let early { continuation.resume(with: early) }
            }
        } onCancel: {
            state.withLock { $0.removeAwaiter(id) }?.resume(throwing: CancellationError())
        }
    }

    /// Blocks the calling thread until the record is delivered.
    /// - Throws: the delivery's `KafkaError`.
    public func wait() throws -> Delivery {
        switch blockedThreadsOrOutcome() {
        case .known(let outcome): return try outcome.get()
        case .waiting(let threads): return try threads.waitBlocking(timeout: nil, onTimeout: .failure(.closed)) { self.outcome }.get()
        }
    }

    private enum Lookup {
        case known(Result<Delivery, KafkaError>)
        case waiting(Waiters<Result<Delivery, KafkaError>>)
    }

    /// The outcome, or the registry of blocked threads to wait in (made on first use); a waiter's
    /// `ready` check then sees an outcome set in between.
    private func blockedThreadsOrOutcome() -> Lookup {
        state.withLock { state in
            if let outcome = state.outcome(topic: topic, partition: partition) { return .known(outcome) }
            let uncommon = state.uncommonPart()
            let threads = uncommon.blockedThreads ?? Waiters<Result<Delivery, KafkaError>>()
            uncommon.blockedThreads = threads
            return .waiting(threads)
        }
    }

    /// The outcome if it is known, without waiting; nil while the record is in flight.
    public var outcome: Result<Delivery, KafkaError>? {
        state.withLock { $0.outcome(topic: topic, partition: partition) }
    }

    /// How many tasks and threads wait for the outcome now (for tests and diagnostics).
    var waiting: Int {
        state.withLock { state in
            (state.firstAwaiter == nil ? 0 : 1) + (state.uncommon?.otherAwaiters.count ?? 0) + (state.uncommon?.blockedThreads?.count ?? 0)
        }
    }

    /// Resolves the receipt with the record's outcome and wakes its waiters; only the first
    /// resolution counts (returns false for a later one). For test doubles and adapters.
    @discardableResult
    public func resolve(_ outcome: Result<Delivery, KafkaError>) -> Bool {
        switch outcome {
        case .success(let delivery):
            let elsewhere = delivery.topic == topic && delivery.partition == partition ? nil : delivery
            return settle(offset: delivery.offset, failure: nil, elsewhere: elsewhere)
        case .failure(let error):
            return settle(offset: -1, failure: error, elsewhere: nil)
        }
    }

    /// Resolves the receipt as delivered at `offset` of its topic and partition (a ``Sender``'s
    /// delivery report); false when it was resolved before.
    @discardableResult
    func resolveDelivered(offset: Int64) -> Bool {
        settle(offset: offset, failure: nil, elsewhere: nil)
    }

    /// Resolves the receipt as failed with `error`; false when it was resolved before.
    func resolveFailed(_ error: KafkaError) -> Bool {
        settle(offset: -1, failure: error, elsewhere: nil)
    }

    private func settle(offset: Int64, failure: KafkaError?, elsewhere: Delivery?) -> Bool {
        // The waiters taken out, with the outcome to give them (nil when none waits).
        typealias Woken = (first: UnsafeContinuation<Delivery, any Error>?, others: Uncommon?, outcome: Result<Delivery, KafkaError>?)
        let woken: Woken? = state.withLock { state in
            guard !state.settled else { return nil }
            state.settled = true
            state.offset = offset
            if failure != nil || elsewhere != nil {
                let uncommon = state.uncommonPart()
                uncommon.failure = failure
                uncommon.deliveredElsewhere = elsewhere
            }
            let first = state.firstAwaiter?.continuation
            state.firstAwaiter = nil
            // The waiters beyond the first leave the state with this part; the outcome stays.
            let others = state.uncommon.flatMap { uncommon -> Uncommon? in
                guard !uncommon.otherAwaiters.isEmpty || uncommon.blockedThreads != nil else { return nil }
                let taken = Uncommon()
                swap(&taken.otherAwaiters, &uncommon.otherAwaiters)
                swap(&taken.blockedThreads, &uncommon.blockedThreads)
                return taken
            }
            let anyWaits = first != nil || others != nil
            return (first, others, anyWaits ? state.outcome(topic: topic, partition: partition) : nil)
        }
        guard let woken else { return false }
        guard let outcome = woken.outcome else { return true }
        let resumed = outcome.mapError { $0 as any Error }
        woken.first?.resume(with: resumed)
        if let others = woken.others {
            for continuation in others.otherAwaiters.values { continuation.resume(with: resumed) }
            others.blockedThreads?.resumeAll(with: outcome)
        }
        return true
    }
}
