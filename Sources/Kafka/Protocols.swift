/// Writes messages to one partition. Go's `kafka.Producer`.
///
/// ``BrokerProducer`` and the `KafkaTest` doubles conform, so services can
/// depend on this protocol and be unit-tested without Kafka.
public protocol Producer: Sendable {
    /// Writes `messages` to `topic`/`partition` in order and blocks until the
    /// broker has acknowledged every one at the producer's required acks.
    ///
    /// On return each message's `topic`, `partition` and `offset` are set;
    /// the result is the offset of the first message. With
    /// `RequiredAcks.none` no offset is known: the result and every
    /// message's offset are -1 (Go returned 0, 1, 2..., which meant nothing).
    ///
    /// - Throws: `KafkaError.closed` after close; `KafkaError.invalidArgument(_:)`
    ///   for a bad topic, partition or an empty message list (nothing is written);
    ///   `KafkaError.broker(_:message:)` or `KafkaError.local(code:message:)`
    ///   when the retry limit runs out.
    @discardableResult
    func produce(_ topic: String, partition: Int32, messages: inout [Message]) throws -> Int64

    /// The `async` twin of ``produce(_:partition:messages:)-6onl9``:
    /// suspends until acknowledged without blocking a thread.
    @discardableResult
    func produce(_ topic: String, partition: Int32, messages: inout [Message]) async throws -> Int64
}

extension Producer {
    /// Writes `messages` and returns the first message's offset, for callers
    /// that do not need every message's offset back. Same rules and errors as
    /// the `inout` form.
    @discardableResult
    public func produce(_ topic: String, partition: Int32, messages: [Message]) throws -> Int64 {
        var copy = messages
        return try produce(topic, partition: partition, messages: &copy)
    }

    /// The `async` twin of ``produce(_:partition:messages:)-(_,_,[Message])``.
    @discardableResult
    public func produce(_ topic: String, partition: Int32, messages: [Message]) async throws -> Int64 {
        var copy = messages
        return try await produce(topic, partition: partition, messages: &copy)
    }
}

/// Reads messages one at a time. Go's `kafka.Consumer`.
public protocol Consumer: Sendable {
    /// Returns the next message in partition order.
    /// - Throws: `KafkaError.noData` when a retry limit ran out without data,
    ///   `KafkaError.closed` after close, broker and local errors after retries.
    func consume() throws -> Message
    /// The `async` twin of ``consume()``. Runs on the caller's executor, so a
    /// consume loop on an actor does not hop threads per message.
    nonisolated(nonsending) func consume() async throws -> Message
}

/// Reads the messages of one fetch at once. Go's `kafka.BatchConsumer`.
public protocol BatchConsumer: Consumer {
    /// Returns the messages of one fetch, after whatever ``Consumer/consume()-25sqy``
    /// had already buffered (so mixing the two never repeats a message; Go's did). A fetch
    /// returns as soon as one message is there, with every other one already arrived (up to
    /// 1,000): it never waits to fill a batch.
    /// Same retry and `KafkaError.noData` rules as `consume()`.
    func consumeBatch() throws -> [Message]
    /// The `async` twin of ``consumeBatch()``.
    nonisolated(nonsending) func consumeBatch() async throws -> [Message]
}

/// Commits and reads a consumer group's offsets. Go's `kafka.OffsetCoordinator`.
public protocol OffsetCoordinator: Sendable {
    /// Commits `offset` for `topic`/`partition` with `metadata` (Go's
    /// `CommitFull`; pass `""` for Go's `Commit`).
    func commit(_ topic: String, partition: Int32, offset: Int64, metadata: String) throws
    /// The `async` twin of ``commit(_:partition:offset:metadata:)``.
    func commit(_ topic: String, partition: Int32, offset: Int64, metadata: String) async throws
    /// Returns the committed offset and its metadata; `(-1, "")` when the
    /// group never committed one for this partition (what Go reports against
    /// a modern Kafka).
    func offset(_ topic: String, partition: Int32) throws -> (offset: Int64, metadata: String)
    /// The `async` twin of ``offset(_:partition:)``.
    func offset(_ topic: String, partition: Int32) async throws -> (offset: Int64, metadata: String)
}

extension OffsetCoordinator {
    /// Commits `offset` with empty metadata. Go's `Commit`.
    public func commit(_ topic: String, partition: Int32, offset: Int64) throws {
        try commit(topic, partition: partition, offset: offset, metadata: "")
    }

    /// The `async` twin of ``commit(_:partition:offset:)``.
    public func commit(_ topic: String, partition: Int32, offset: Int64) async throws {
        try await commit(topic, partition: partition, offset: offset, metadata: "")
    }
}

/// Writes messages to a topic, choosing the partition itself. Go's `kafka.DistributingProducer`.
public protocol DistributingProducer: Sendable {
    /// Writes every message of the call to one partition it chooses and
    /// returns the first message's offset; each message's position is set.
    func distribute(_ topic: String, messages: inout [Message]) throws -> Int64
    /// The `async` twin of ``distribute(_:messages:)-4hj4s``.
    func distribute(_ topic: String, messages: inout [Message]) async throws -> Int64
}

extension DistributingProducer {
    /// Writes `messages` and returns the first offset, for callers that do not need the positions back.
    @discardableResult
    public func distribute(_ topic: String, messages: [Message]) throws -> Int64 {
        var copy = messages
        return try distribute(topic, messages: &copy)
    }

    /// The `async` twin of ``distribute(_:messages:)-(_,[Message])``.
    @discardableResult
    public func distribute(_ topic: String, messages: [Message]) async throws -> Int64 {
        var copy = messages
        return try await distribute(topic, messages: &copy)
    }
}

/// What a service depends on to reach Kafka. Go's `kafka.Client`; ``Broker``
/// and `KafkaTest.MockBroker` conform.
public protocol Client: Sendable {
    /// The producer type this client hands out.
    associatedtype ClientProducer: Producer
    /// The consumer type this client hands out.
    associatedtype ClientConsumer: BatchConsumer
    /// The offset coordinator type this client hands out.
    associatedtype ClientOffsetCoordinator: OffsetCoordinator

    /// Creates a producer. Throws `KafkaError.invalidConfiguration(_:)` for a bad conf, `KafkaError.closed` after close.
    func producer(_ conf: ProducerConf) throws -> ClientProducer
    /// Creates a consumer of one partition; fails at once for a topic or partition that does not exist.
    func consumer(_ conf: ConsumerConf) throws -> ClientConsumer
    /// Creates an offset coordinator for one consumer group.
    func offsetCoordinator(_ conf: OffsetCoordinatorConf) throws -> ClientOffsetCoordinator
    /// The oldest offset the partition still holds.
    func offsetEarliest(_ topic: String, partition: Int32) throws -> Int64
    /// The offset the next produced message will get (the high watermark).
    func offsetLatest(_ topic: String, partition: Int32) throws -> Int64
    /// Closes the client and everything made from it; later calls throw `KafkaError.closed`. Idempotent.
    func close()
}

/// Sends records and reports their deliveries later: ``Sender``, and KafkaTest's `MockSender`.
public protocol RecordSender: Sendable {
    /// Hands `message` over for `topic` (`partition`, or nil to place it by key) and returns its
    /// receipt; throws at once for a record that cannot be sent. See ``Sender/send(_:to:partition:)-g4oo``.
    @discardableResult
    func send(_ message: Message, to topic: String, partition: Int32?) throws -> DeliveryReceipt
    /// The `async` twin: waits for room without holding a thread; cancellable.
    @discardableResult
    func send(_ message: Message, to topic: String, partition: Int32?) async throws -> DeliveryReceipt
    /// Hands `message` over without a receipt; a failed delivery reaches `SenderConf.onFailure`.
    /// See `Sender.sendAndForget(_:to:partition:)`.
    func sendAndForget(_ message: Message, to topic: String, partition: Int32?) throws
    /// The `async` twin: waits for room without holding a thread; cancellable.
    func sendAndForget(_ message: Message, to topic: String, partition: Int32?) async throws
    /// Waits up to `timeout` for every record in flight; returns how many still are.
    @discardableResult
    func flush(timeout: Duration) -> Int
    /// Closes the sender; receipts in flight fail with `KafkaError.closed`. Idempotent.
    func close()
}

/// A ``Client`` that also makes ``RecordSender``s: ``Broker`` and KafkaTest's `MockBroker`.
public protocol SendingClient: Client {
    /// The sender type this client hands out.
    associatedtype ClientSender: RecordSender
    /// Creates a sender. Throws `KafkaError.invalidConfiguration(_:)` for a bad conf, `KafkaError.closed` after close.
    func sender(_ conf: SenderConf) throws -> ClientSender
}

extension RecordSender {
    /// A sender without a receipt-less path of its own sends with a receipt and drops it: its
    /// failure still reaches `SenderConf.onFailure`.
    public func sendAndForget(_ message: Message, to topic: String, partition: Int32?) throws {
        try send(message, to: topic, partition: partition)
    }

    /// The `async` twin of the default `sendAndForget(_:to:partition:)`.
    public func sendAndForget(_ message: Message, to topic: String, partition: Int32?) async throws {
        try await send(message, to: topic, partition: partition)
    }
}

extension Sender: RecordSender {}
extension Broker: SendingClient {}
