/// A producer that writes inside Kafka transactions: ``TransactionalProducer``, and KafkaTest's
/// `MockTransactionalProducer`, so that a consume-transform-produce service can be unit-tested
/// without Kafka. The scoped `transaction(_:)` and ``endTransaction(before:)`` come with it.
public protocol TransactionalProducing: Producer {
    /// Whether a transaction is open (begun, and neither committed nor aborted yet).
    var isInTransaction: Bool { get }
    /// Begins a transaction. See ``TransactionalProducer/beginTransaction()``.
    func beginTransaction() throws
    /// Adds a group's offsets to the open transaction. See ``TransactionalProducer/sendOffsets(_:group:)-1bl2n``.
    func sendOffsets(_ offsets: [TopicPartition: Int64], group: ConsumerGroupMetadata) throws
    /// The `async` twin of ``sendOffsets(_:group:)``.
    func sendOffsets(_ offsets: [TopicPartition: Int64], group: ConsumerGroupMetadata) async throws
    /// Commits the open transaction. See ``TransactionalProducer/commitTransaction()-5sqbx``.
    func commitTransaction() throws
    /// The `async` twin of ``commitTransaction()``.
    func commitTransaction() async throws
    /// Aborts the open transaction; nothing when none is open. See ``TransactionalProducer/abortTransaction()-7g9ny``.
    func abortTransaction() throws
    /// The `async` twin of ``abortTransaction()``.
    func abortTransaction() async throws
    /// Closes the producer; an open transaction is not committed. Idempotent.
    func close()
}

/// A group member whose consumed offsets a transaction can commit: ``GroupConsumer``, and
/// KafkaTest's `MockGroupConsumer`.
public protocol TransactionalConsumer: BatchConsumer {
    /// Whether the member commits by itself (``GroupConsumerConf/CommitPolicy/automatic(interval:)``),
    /// which a transaction must not be combined with.
    var commitsAutomatically: Bool { get }
    /// The offset after the last message handed out, per assigned partition. See ``GroupConsumer/handedOutOffsets()``.
    func handedOutOffsets() throws -> [TopicPartition: Int64]
    /// The member's group metadata. See ``GroupConsumer/groupMetadata()``.
    func groupMetadata() throws -> ConsumerGroupMetadata
    /// Moves every assigned partition back to its committed offset. See ``GroupConsumer/rewindToCommitted()-7ds52``.
    func rewindToCommitted() throws
}

/// A ``Client`` that also makes transactional producers: ``Broker`` and KafkaTest's `MockBroker`.
public protocol TransactionalClient: Client {
    /// The transactional producer type this client hands out.
    associatedtype ClientTransactionalProducer: TransactionalProducing
    /// Creates a transactional producer and initializes its transactions. See ``Broker/transactionalProducer(_:)-518p``.
    func transactionalProducer(_ conf: TransactionalProducerConf) throws -> ClientTransactionalProducer
}

extension TransactionalProducer: TransactionalProducing {}
extension Broker: TransactionalClient {}

extension GroupConsumer: TransactionalConsumer {
    /// Whether the commit policy is automatic.
    public var commitsAutomatically: Bool {
        if case .automatic = conf.commitPolicy { true } else { false }
    }
}
