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

    /// The outcome once known, and the waiters, made only when someone waits: a receipt nobody
    /// awaits costs one allocation (itself).
    private struct State {
        var outcome: Result<Delivery, KafkaError>?
        var waiters: Waiters<Result<Delivery, KafkaError>>?
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
        switch waitersOrOutcome() {
        case .known(let outcome): return try outcome.get()
        case .waiting(let waiters):
            return try await waiters.wait(timeout: nil, onTimeout: .failure(.closed)) { outcome }.get()
        }
    }

    /// Blocks the calling thread until the record is delivered.
    /// - Throws: the delivery's `KafkaError`.
    public func wait() throws -> Delivery {
        switch waitersOrOutcome() {
        case .known(let outcome): return try outcome.get()
        case .waiting(let waiters):
            return try waiters.waitBlocking(timeout: nil, onTimeout: .failure(.closed)) { outcome }.get()
        }
    }

    /// The outcome if it is known, without waiting; nil while the record is in flight.
    public var outcome: Result<Delivery, KafkaError>? {
        state.withLock { $0.outcome }
    }

    /// Resolves the receipt with the record's outcome and wakes its waiters; only the first
    /// resolution counts (returns false for a later one). For test doubles and adapters.
    @discardableResult
    public func resolve(_ outcome: Result<Delivery, KafkaError>) -> Bool {
        let (first, waiters) = state.withLock { state -> (Bool, Waiters<Result<Delivery, KafkaError>>?) in
            guard state.outcome == nil else { return (false, nil) }
            state.outcome = outcome
            return (true, state.waiters)
        }
        waiters?.resumeAll(with: outcome)
        return first
    }

    private enum Lookup {
        case known(Result<Delivery, KafkaError>)
        case waiting(Waiters<Result<Delivery, KafkaError>>)
    }

    /// The outcome, or the waiters to register with (made on first use); a waiter's `ready` check
    /// then sees an outcome set in between.
    private func waitersOrOutcome() -> Lookup {
        state.withLock { state in
            if let outcome = state.outcome { return .known(outcome) }
            if let waiters = state.waiters { return .waiting(waiters) }
            let waiters = Waiters<Result<Delivery, KafkaError>>()
            state.waiters = waiters
            return .waiting(waiters)
        }
    }
}
