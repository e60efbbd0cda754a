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

/// The promise of one record's delivery, returned at once by ``Sender/send(_:to:partition:)``.
///
/// Await it (``delivered()``) or wait for it (``wait()``) to learn the record's offset, or ignore
/// it: a failure also goes to ``SenderConf/onFailure`` (or the log), so an ignored receipt's error
/// never vanishes. Resolved exactly once: by the broker's acknowledgement, a delivery error
/// (librdkafka's code, e.g. its timeout once ``SenderConf/deliveryTimeout`` passed), or
/// ``KafkaError/closed`` when the sender closed before the record was delivered.
public final class DeliveryReceipt: Sendable {
    /// The record's topic.
    public let topic: String
    /// The partition the record was placed on, known at send.
    public let partition: Int32
    private let completion = Completion<Delivery>()

    /// A receipt for a record placed on `topic`/`partition`, resolved by whoever sends it: for test
    /// doubles and adapters (KafkaTest's `MockSender`); a ``Sender`` makes and resolves its own.
    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    /// Suspends until the record is delivered, without holding a thread.
    /// - Throws: the delivery's ``KafkaError``; `CancellationError` when the task is cancelled (the
    ///   record's delivery goes on; a later call still learns its outcome).
    public func delivered() async throws -> Delivery {
        try await completion.wait()
    }

    /// Blocks the calling thread until the record is delivered.
    /// - Throws: the delivery's ``KafkaError``.
    public func wait() throws -> Delivery {
        try completion.waitBlocking()
    }

    /// The outcome if it is known, without waiting; nil while the record is in flight.
    public var outcome: Result<Delivery, KafkaError>? {
        completion.result.map { $0.mapError { ($0 as? KafkaError) ?? .closed } }
    }

    /// Resolves the receipt with the record's outcome and wakes its waiters; only the first
    /// resolution counts (returns false for a later one). For test doubles and adapters.
    @discardableResult
    public func resolve(_ outcome: Result<Delivery, KafkaError>) -> Bool {
        completion.finish(outcome.mapError { $0 })
    }
}
