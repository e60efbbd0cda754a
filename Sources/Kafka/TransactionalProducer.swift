import Synchronization

/// A producer whose messages, and the consumer offsets sent with them, become visible together
/// or not at all: Kafka transactions, for consume-transform-produce services that must neither
/// lose nor duplicate a result. Made by ``Broker/transactionalProducer(_:)-518p``.
///
/// ```swift
/// let producer = try broker.transactionalProducer(TransactionalProducerConf(transactionalID: "billing-1"))
/// let inputs = try consumer.consumeBatch()          // a GroupConsumer with CommitPolicy.manual
/// try producer.transaction {
///     for input in inputs { try producer.produce("results", partition: input.partition, messages: [transform(input)]) }
///     try producer.sendOffsets(handedOutBy: consumer)
/// }
/// ```
///
/// Making it initializes transactions for its id: a transaction a previous instance with the same
/// id left open is aborted (or its commit finished), and that instance is fenced: its next
/// transactional call fails fatally. Between ``beginTransaction()`` and the end
/// (``commitTransaction()-5sqbx`` or ``abortTransaction()-7g9ny``) the ``Producer`` calls write into the
/// transaction; outside one they throw. Consumers with ``IsolationLevel/readCommitted`` (the
/// default) see the messages only once committed, never those of an aborted transaction.
///
/// Errors of the transactional calls are `KafkaError.transaction(_:)` when librdkafka classifies
/// them: fatal (the producer is unusable from then on: every later call throws the same fatal
/// error; close it), abortable (abort, rewind the inputs, run the transaction again) or retriable
/// (make the same call again). Its own handle; ``Broker/close()`` closes it.
public final class TransactionalProducer: Producer {
    /// The broker this producer belongs to.
    public let broker: Broker
    /// The configuration it was made with.
    public let conf: TransactionalProducerConf
    let handle: NativeHandle
    private let producer: BrokerProducer
    private let state = Mutex(State())

    /// Where the transaction stands, as far as this producer's callers made it.
    private struct State {
        var phase: Phase = .ready(lastEnd: nil)
        /// Set once a call failed fatally: every later call throws it.
        var fatal: KafkaError?
    }

    private enum Phase {
        /// No transaction open; `lastEnd` is the end that closed the last one, so that an end
        /// repeated after its caller was cancelled returns the same outcome.
        case ready(lastEnd: End?)
        case open
        /// A commit or abort is running (perhaps for a caller that was cancelled).
        case ending(End)
    }

    /// One commit or abort: its kind and its outcome, which every caller of that end awaits.
    private struct End {
        enum Kind: Equatable { case commit, abort }
        let kind: Kind
        let outcome: Completion<Bool>
    }

    init(broker: Broker, conf: TransactionalProducerConf, handle: NativeHandle) {
        self.broker = broker
        self.conf = conf
        self.handle = handle
        self.producer = BrokerProducer(broker: broker, conf: conf.producerConf, handle: handle)
    }

    deinit {
        handle.close()
    }

    // MARK: - State

    /// Whether a transaction is open (begun, and neither committed nor aborted yet).
    public var isInTransaction: Bool {
        state.withLock { if case .open = $0.phase { true } else { false } }
    }

    /// The fatal error that made this producer unusable, if one did.
    public var fatalError: KafkaError? { state.withLock { $0.fatal } }

    private var name: String { "transactional producer \(conf.transactionalID)" }

    /// Throws the fatal error once there is one; latches librdkafka's fatal error when it raised one.
    private func checkUsable(_ operation: String) throws(KafkaError) {
        if handle.isClosed { throw .closed }
        if let fatal = state.withLock({ $0.fatal }) { throw fatal }
        if let raised = try? handle.withHandle({ rk in TransactionCalls.fatalError(rk, operation: operation) }) {
            throw latch(raised)
        }
    }

    /// Remembers `error` when it is fatal; returns it.
    @discardableResult
    private func latch(_ error: KafkaError) -> KafkaError {
        guard error.transactionFailureKind == .fatal else { return error }
        return state.withLock { state in
            if state.fatal == nil { state.fatal = error }
            return state.fatal ?? error
        }
    }

    /// Runs `body` on the handle, latching a fatal error it throws.
    private func call<R>(_ operation: String, _ body: (OpaquePointer) throws -> R) throws -> R {
        try checkUsable(operation)
        do {
            return try handle.withHandle(body)
        } catch let error as KafkaError {
            throw latch(error)
        }
    }

    // MARK: - Transactions

    /// Begins a transaction: later produce calls and ``sendOffsets(_:group:)-1bl2n`` belong to it until
    /// it is committed or aborted. Local: sends nothing.
    /// - Throws: `KafkaError.invalidArgument(_:)` when a transaction is already open or still
    ///   ending; the fatal `KafkaError.transaction(_:)` once the producer is unusable; `KafkaError.closed`.
    public func beginTransaction() throws {
        try checkUsable("beginTransaction")
        try state.withLock { state throws(KafkaError) in
            switch state.phase {
            case .ready: break
            case .open: throw .invalidArgument("a transaction is already open on \(name); commit or abort it first")
            case .ending: throw .invalidArgument("the last transaction of \(name) is still ending; wait for its commit or abort")
            }
            state.phase = .open
        }
        do {
            try call("beginTransaction") { rk in try TransactionCalls.begin(rk) }
        } catch {
            state.withLock { $0.phase = .ready(lastEnd: nil) }
            throw error
        }
    }

    /// Adds `offsets` (the next offset to read, per partition) of `group` to the open transaction:
    /// they become the group's committed offsets if, and only if, the transaction commits. Waits
    /// for the coordinator up to ``TransactionalProducerConf/coordinatorTimeout``.
    /// - Throws: `KafkaError.invalidArgument(_:)` when no transaction is open or an offset is
    ///   negative; `KafkaError.transaction(_:)` (retriable: send the same offsets again;
    ///   abortable; fatal, e.g. fenced); the coordinator's error; `KafkaError.closed`.
    public func sendOffsets(_ offsets: [TopicPartition: Int64], group: ConsumerGroupMetadata) throws {
        guard try prepareOffsets(offsets) else { return }
        let timeout = conf.coordinatorTimeout
        try latching { try handle.detached { rk in try TransactionCalls.sendOffsets(rk, offsets, group, timeout: timeout) } }
    }

    /// The `async` twin of ``sendOffsets(_:group:)``: waits without holding a thread. Cancellable:
    /// a cancelled task stops waiting (`CancellationError`) while the request goes on; whether the
    /// offsets are in the transaction is then unknown, so abort it (or send them again).
    public func sendOffsets(_ offsets: [TopicPartition: Int64], group: ConsumerGroupMetadata) async throws {
        guard try prepareOffsets(offsets) else { return }
        let timeout = conf.coordinatorTimeout
        try await latching { try await handle.detached { rk in try TransactionCalls.sendOffsets(rk, offsets, group, timeout: timeout) } }
    }

    /// Checks `offsets` and the phase; false when there is nothing to send.
    private func prepareOffsets(_ offsets: [TopicPartition: Int64]) throws -> Bool {
        try checkUsable("sendOffsets")
        for (partition, offset) in offsets where offset < 0 {
            throw KafkaError.invalidArgument("offset \(offset) for \(partition) is negative; send the next offset to read")
        }
        try requireOpen("sendOffsets")
        return !offsets.isEmpty
    }

    private func requireOpen(_ operation: String) throws(KafkaError) {
        guard isInTransaction else {
            throw .invalidArgument("\(operation) needs an open transaction on \(name); call beginTransaction() first")
        }
    }

    private func latching<R>(_ body: () throws -> R) throws -> R {
        do { return try body() } catch let error as KafkaError { throw latch(error) }
    }

    private func latching<R>(_ body: () async throws -> R) async throws -> R {
        do { return try await body() } catch let error as KafkaError { throw latch(error) }
    }

    /// Commits the open transaction: delivers every message produced in it, then makes them and
    /// the offsets sent with them visible together. Waits at most what is left of
    /// ``TransactionalProducerConf/transactionTimeout``. Calling it again after it returned
    /// (or after its `async` caller was cancelled) returns the same commit's outcome.
    /// - Throws: `KafkaError.transaction(_:)`: abortable (call ``abortTransaction()-7g9ny``, rewind
    ///   the inputs, run it again), retriable (call it again: the commit goes on in the
    ///   background and the call resumes it), fatal; `KafkaError.invalidArgument(_:)` when no
    ///   transaction is open; `KafkaError.closed`.
    public func commitTransaction() throws {
        _ = try end(.commit).waitBlocking()
    }

    /// The `async` twin of ``commitTransaction()``, run on the library's call pool while the task
    /// waits without holding a thread. Cancellation: the task stops waiting at once with
    /// `CancellationError`, and the commit goes on to its end (a commit cannot be taken back).
    /// The transaction is then neither open nor known to be committed: call
    /// `commitTransaction()` again to wait for that same commit and get its outcome; a new
    /// ``beginTransaction()`` before it ended throws.
    public func commitTransaction() async throws {
        _ = try await end(.commit).wait()
    }

    /// Aborts the open transaction: messages produced in it are purged or never become visible to
    /// read-committed consumers, and its offsets are not committed. Nothing when no transaction
    /// is open. Waits at most what is left of the transaction timeout.
    /// - Throws: `KafkaError.transaction(_:)` retriable (call it again) or fatal; `KafkaError.closed`.
    public func abortTransaction() throws {
        _ = try end(.abort).waitBlocking()
    }

    /// The `async` twin of ``abortTransaction()``; cancellation as ``commitTransaction()-5sqbx`` (the
    /// abort goes on; calling it again waits for it).
    public func abortTransaction() async throws {
        _ = try await end(.abort).wait()
    }

    /// The outcome of the end `kind` of the open transaction: started now on the call pool, or
    /// the one already running or done.
    private func end(_ kind: End.Kind) throws -> Completion<Bool> {
        let operation = kind == .commit ? "commitTransaction" : "abortTransaction"
        try checkUsable(operation)
        enum Decision {
            case join(Completion<Bool>)
            case start(End)
        }
        let decision: Decision = try state.withLock { state throws(KafkaError) in
            switch state.phase {
            case .ready(let last):
                if let last, last.kind == kind { return .join(last.outcome) }
                if kind == .abort {
                    let done = Completion<Bool>()
                    done.finish(.success(true))
                    return .join(done)
                }
                throw .invalidArgument("commitTransaction needs an open transaction on \(name); call beginTransaction() first")
            case .ending(let running):
                if running.kind == kind { return .join(running.outcome) }
                throw .invalidArgument("the transaction of \(name) is being \(running.kind == .commit ? "committed" : "aborted"); wait for that first")
            case .open:
                let end = End(kind: kind, outcome: Completion())
                state.phase = .ending(end)
                return .start(end)
            }
        }
        switch decision {
        case .join(let outcome):
            return outcome
        case .start(let end):
            run(end, operation)
            return end.outcome
        }
    }

    /// Runs `end` on the call pool; records its outcome in the phase, then hands it to its waiters.
    private func run(_ end: End, _ operation: String) {
        let wakeUp = handle.onCloseRemovable { end.outcome.close(with: .closed) }
        CallPool.shared.run { [self] in
            let outcome: Result<Bool, any Error> = Result {
                try handle.detached { rk in
                    if end.kind == .commit { try TransactionCalls.commit(rk) } else { try TransactionCalls.abort(rk) }
                }
                return true
            }.mapError { error in (error as? KafkaError).map { latch($0) } ?? error }
            state.withLock { state in
                guard case .ending(let current) = state.phase, current.outcome === end.outcome else { return }
                switch outcome {
                case .success: state.phase = .ready(lastEnd: end)
                // Abortable: abort is next. Retriable: the same end may be called again (librdkafka resumes it).
                case .failure: state.phase = state.fatal == nil ? .open : .ready(lastEnd: nil)
                }
            }
            handle.removeCloseHook(wakeUp)
            end.outcome.finish(outcome)
        }
    }

    // MARK: - Producer

    /// Writes `messages` into the open transaction, as ``BrokerProducer/produce(_:partition:messages:)-93b7h``
    /// with one attempt; returns once librdkafka delivered them (they stay invisible to
    /// read-committed consumers until the commit).
    /// - Throws: `KafkaError.invalidArgument(_:)` when no transaction is open; the delivery
    ///   error (the transaction must then be aborted); the fatal error; `KafkaError.closed`.
    @discardableResult
    public func produce(_ topic: String, partition: Int32, messages: inout [Message]) throws -> Int64 {
        try checkUsable("produce")
        try requireOpen("produce")
        return try latching { try producer.produce(topic, partition: partition, messages: &messages) }
    }

    /// The `async` twin of ``produce(_:partition:messages:)-4qf4m``; cancellation
    /// as ``BrokerProducer``'s (messages already handed over may still be written: abort the
    /// transaction to be sure they are not visible).
    @discardableResult
    public func produce(_ topic: String, partition: Int32, messages: inout [Message]) async throws -> Int64 {
        try checkUsable("produce")
        try requireOpen("produce")
        do {
            return try await producer.produce(topic, partition: partition, messages: &messages)
        } catch let error as KafkaError {
            throw latch(error)
        }
    }

    // MARK: - Closing

    /// Closes the producer: an open transaction is not committed (the coordinator aborts it at
    /// its timeout, or the next instance with the same id aborts it at once); a commit or abort
    /// still running goes on in the background and its waiters get `KafkaError.closed`. Later
    /// calls throw `KafkaError.closed`. Idempotent; returns at once whatever the coordinator does.
    public func close() {
        handle.close()
    }

    /// The `async` twin of ``close()``, run on the library's call pool.
    public func shutdown() async {
        try? await runBlocking { self.close() }
    }
}
