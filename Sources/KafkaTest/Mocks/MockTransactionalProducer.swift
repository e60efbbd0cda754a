import Foundation
import Kafka

/// An in-memory transactional producer made by ``MockBroker/transactionalProducer(_:)``: the
/// double of `TransactionalProducer`, with its rules, so that a consume-transform-produce
/// service can be unit-tested without Kafka.
///
/// Produce calls inside a transaction append to the broker's partition logs at once, with real
/// offsets, marked as belonging to the open transaction: consumers with
/// `IsolationLevel.readCommitted` (the default) read no further than a transaction still open,
/// and never read an aborted one's messages. ``commitTransaction()-5z37y`` makes the messages visible and
/// the offsets sent with ``sendOffsets(_:group:)-2ved0`` the groups' committed offsets (what
/// ``MockGroupConsumer`` and ``MockOffsetCoordinator`` read), together; ``abortTransaction()-5smj9``
/// hides the messages and drops the offsets. No control records are written: offsets stay
/// contiguous.
///
/// Making a producer with the transactional id of an earlier one aborts the earlier one's open
/// transaction and fences it: its next call throws a fatal `KafkaError.transaction(_:)` caused by
/// `producerFenced`, and every later call the same error. ``failNextCommit(with:cause:)`` injects
/// the other failures. After ``close()`` (its own or the broker's) calls throw `KafkaError.closed`.
public final class MockTransactionalProducer: TransactionalProducing, @unchecked Sendable {
    // Safe: `phase`, `fatal`, `mustAbort`, `injectedCommitFailure` and `closed` are read and written
    // only with the broker state's lock (`state.condition`, through `state.locked`) held.

    /// The configuration it was made with (the timeouts are recorded, not applied: nothing waits).
    public let conf: TransactionalProducerConf
    let state: MockState
    /// The epoch of this instance of its transactional id: a newer instance has a higher one and fences this one.
    private let epoch: Int
    private var phase: Phase = .ready(lastEnd: nil)
    /// Set once a call failed fatally: every later call throws it.
    private var fatal: KafkaError?
    /// Set by an abortable failure: the open transaction can only be aborted.
    private var mustAbort: KafkaError?
    private var injectedCommitFailure: KafkaError?
    private var closed = false

    private enum EndKind { case commit, abort }

    private enum Phase {
        /// No transaction open; `lastEnd` is how the last one ended (a repeated end returns its outcome).
        case ready(lastEnd: EndKind?)
        /// The transaction of this number (in the broker state) is open.
        case open(Int)
    }

    init(state: MockState, conf: TransactionalProducerConf, epoch: Int) {
        self.state = state
        self.conf = conf
        self.epoch = epoch
    }

    private var name: String { "transactional producer \(conf.transactionalID)" }

    // MARK: - State

    /// Whether a transaction is open (begun, and neither committed nor aborted yet, nor aborted by
    /// a newer producer with the same transactional id); false once the producer failed fatally.
    public var isInTransaction: Bool {
        state.locked {
            guard fatal == nil, case .open(let number) = phase else { return false }
            return state.transactions[number]?.status == .open
        }
    }

    /// The fatal error that made this producer unusable, if one did (nil until a call noticed the fencing).
    public var fatalError: KafkaError? { state.locked { fatal } }

    /// Makes the next ``commitTransaction()-5z37y`` of an open transaction fail with `kind` (once; a
    /// later injection replaces one not used yet). Abortable: the transaction stays open and can
    /// only be aborted (produce, ``sendOffsets(_:group:)-2ved0`` and commit throw the same error until
    /// ``abortTransaction()-5smj9``). Retriable: it stays open and the next commit commits it. Fatal:
    /// the producer is unusable, every later call throws the same error (its open transaction is
    /// aborted at ``close()`` or when a new producer with the same id is made).
    /// - Parameters:
    ///   - kind: what the failure makes of the transaction, as described above.
    ///   - cause: the error the failure carries; default a broker error typical of `kind`
    ///     (`notCoordinator`, `outOfOrderSequenceNumber`, `transactionalIdAuthorizationFailed`).
    public func failNextCommit(with kind: TransactionFailure.Kind, cause: KafkaError? = nil) {
        let injected = "injected by MockTransactionalProducer.failNextCommit"
        let defaultCause: KafkaError = switch kind {
        case .retriable: .broker(.notCoordinator, message: "the transaction coordinator moved (\(injected))")
        case .abortable: .broker(.outOfOrderSequenceNumber, message: "a delivery in the transaction failed (\(injected))")
        case .fatal: .broker(.transactionalIdAuthorizationFailed, message: "the transactional id is not authorized (\(injected))")
        }
        let failure = KafkaError.transaction(TransactionFailure(kind: kind, operation: "commitTransaction", cause: cause ?? defaultCause))
        state.locked { injectedCommitFailure = failure }
    }

    // MARK: - Internals (state lock held)

    /// Throws ``KafkaError/closed`` after close, the latched fatal error, or latches and throws the
    /// fencing error when a newer producer took the transactional id.
    private func checkUsable(_ operation: String) throws(KafkaError) {
        try state.checkOpen()
        if closed { throw .closed }
        if let fatal { throw fatal }
        if state.transactionalIDs[conf.transactionalID]?.epoch != epoch {
            let fenced = KafkaError.transaction(TransactionFailure(
                kind: .fatal, operation: operation,
                cause: .broker(.producerFenced, message: "a newer producer with transactional id \(conf.transactionalID) fenced this one")
            ))
            fatal = fenced
            throw fenced
        }
    }

    /// The number of the open transaction, or ``KafkaError/invalidArgument(_:)``.
    private func requireOpen(_ operation: String) throws(KafkaError) -> Int {
        guard case .open(let number) = phase else {
            throw .invalidArgument("\(operation) needs an open transaction on \(name); call beginTransaction() first")
        }
        return number
    }

    // MARK: - Transactions

    /// Begins a transaction: later produce calls and ``sendOffsets(_:group:)-2ved0`` belong to it until
    /// it is committed or aborted.
    /// - Throws: `KafkaError.invalidArgument(_:)` when a transaction is already open; the fatal
    ///   `KafkaError.transaction(_:)` once the producer is unusable (e.g. fenced); `KafkaError.closed`.
    public func beginTransaction() throws {
        try state.locked { () throws(KafkaError) in
            try checkUsable("beginTransaction")
            if case .open = phase {
                throw .invalidArgument("a transaction is already open on \(name); commit or abort it first")
            }
            phase = .open(state.openTransaction(conf.transactionalID))
        }
    }

    /// Adds `offsets` (the next offset to read, per partition) of `group` to the open transaction:
    /// they become the group's committed offsets if, and only if, the transaction commits. A
    /// partition sent twice keeps the later offset. Nothing for empty `offsets`.
    /// - Throws: `KafkaError.invalidArgument(_:)` when no transaction is open or an offset is
    ///   negative; the abortable error of a failed commit until the abort; the fatal error;
    ///   `KafkaError.closed`.
    public func sendOffsets(_ offsets: [TopicPartition: Int64], group: ConsumerGroupMetadata) throws {
        try state.locked { () throws(KafkaError) in
            try checkUsable("sendOffsets")
            for (partition, offset) in offsets where offset < 0 {
                throw .invalidArgument("offset \(offset) for \(partition) is negative; send the next offset to read")
            }
            let number = try requireOpen("sendOffsets")
            if let mustAbort { throw mustAbort }
            guard !offsets.isEmpty else { return }
            state.transactions[number]?.offsets[group.group, default: [:]].merge(offsets) { _, later in later }
        }
    }

    /// The `async` twin of ``sendOffsets(_:group:)``; never suspends for long.
    public func sendOffsets(_ offsets: [TopicPartition: Int64], group: ConsumerGroupMetadata) async throws {
        try { () throws in try self.sendOffsets(offsets, group: group) }()
    }

    /// Commits the open transaction: its messages become visible to read-committed consumers and
    /// the offsets sent with it the groups' committed offsets, at once. Calling it again after it
    /// succeeded returns the same success.
    /// - Throws: the failure injected by ``failNextCommit(with:cause:)``; the abortable error until
    ///   ``abortTransaction()-5smj9``; `KafkaError.invalidArgument(_:)` when no transaction is open (or
    ///   the last one was aborted); the fatal error; `KafkaError.closed`.
    public func commitTransaction() throws {
        try state.locked { () throws(KafkaError) in
            try checkUsable("commitTransaction")
            guard case .open(let number) = phase else {
                if case .ready(lastEnd: .commit) = phase { return }
                throw .invalidArgument("commitTransaction needs an open transaction on \(name); call beginTransaction() first")
            }
            if let mustAbort { throw mustAbort }
            if let failure = injectedCommitFailure {
                injectedCommitFailure = nil
                switch failure.transactionFailureKind {
                case .abortable: mustAbort = failure
                case .fatal: fatal = failure
                case .retriable, nil: break
                }
                throw failure
            }
            state.endTransaction(number, committed: true)
            phase = .ready(lastEnd: .commit)
        }
    }

    /// The `async` twin of ``commitTransaction()``; never suspends for long.
    public func commitTransaction() async throws {
        try { () throws in try self.commitTransaction() }()
    }

    /// Aborts the open transaction: its messages are never visible to read-committed consumers and
    /// its offsets are dropped. Nothing when no transaction is open.
    /// - Throws: the fatal error once the producer is unusable; `KafkaError.closed`.
    public func abortTransaction() throws {
        try state.locked { () throws(KafkaError) in
            try checkUsable("abortTransaction")
            guard case .open(let number) = phase else { return }
            state.endTransaction(number, committed: false)
            mustAbort = nil
            phase = .ready(lastEnd: .abort)
        }
    }

    /// The `async` twin of ``abortTransaction()``; never suspends for long.
    public func abortTransaction() async throws {
        try { () throws in try self.abortTransaction() }()
    }

    // MARK: - Producer

    /// Appends `messages` to `topic`/`partition` inside the open transaction and returns the first
    /// one's offset; on return each message carries its topic, partition and offset. The call is
    /// also queued for ``MockBroker/readProducers(timeout:)-3i9hn``.
    /// - Throws: `KafkaError.invalidArgument(_:)` when no transaction is open or for no messages;
    ///   `unknownTopicOrPartition`; the abortable error of a failed commit until the abort; the
    ///   fatal error; `KafkaError.closed`.
    @discardableResult
    public func produce(_ topic: String, partition: Int32, messages: inout [Message]) throws -> Int64 {
        let pending = messages
        let stamped = try state.locked { () throws(KafkaError) -> [Message] in
            try checkUsable("produce")
            let number = try requireOpen("produce")
            if let mustAbort { throw mustAbort }
            guard !pending.isEmpty else { throw .invalidArgument("no messages to produce to \(topic)/\(partition)") }
            try state.requirePartition(topic, partition)
            let stamped = state.append(topic, partition, pending)
            state.mark(stamped, transaction: number)
            state.produced.append(ProducedMessages(topic: topic, partition: partition, messages: stamped))
            state.condition.broadcast()
            return stamped
        }
        messages = stamped
        return stamped.first?.offset ?? -1
    }

    /// The `async` twin of ``produce(_:partition:messages:)-no3t``; never suspends for long.
    @discardableResult
    public func produce(_ topic: String, partition: Int32, messages: inout [Message]) async throws -> Int64 {
        var copy = messages
        let offset = try { () throws -> Int64 in try self.produce(topic, partition: partition, messages: &copy) }()
        messages = copy
        return offset
    }

    // MARK: - Closing

    /// Closes the producer: an open transaction is aborted at once (the double's stand-in for the
    /// coordinator aborting it at its timeout). Later calls throw `KafkaError.closed`. Idempotent.
    public func close() {
        state.locked {
            guard !closed else { return }
            closed = true
            if case .open(let number) = phase { state.endTransaction(number, committed: false) }
            phase = .ready(lastEnd: nil)
        }
    }

    /// The `async` twin of ``close()``.
    public func shutdown() async {
        close()
    }
}
