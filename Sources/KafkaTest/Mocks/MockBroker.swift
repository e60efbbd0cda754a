import Foundation
import Kafka
import Synchronization

/// An in-memory Kafka for unit tests: conforms to `Client` like `Broker`,
/// so code written against the protocols runs on it unchanged, in memory:
/// no broker, no network, no librdkafka calls. Go kafkatest's `Broker`, made stateful.
///
/// - Producers append to per-partition logs and return base offsets.
/// - Consumers read those logs, honour `startOffset`, `retryLimit` (then
///   `KafkaError.noData`) and `retryWait` (through `clock`), and can be fed
///   scripted messages and errors with ``MockConsumer/push(_:)-(Message)`` and ``MockConsumer/push(_:)-(KafkaError)``.
/// - Offset coordinators keep commits per group; a never-committed offset reads `(-1, "")`.
/// - ``admin`` administers it as `KafkaAdmin` does a cluster (see ``MockAdmin``).
/// - ``close()`` makes every later call on anything made from it throw `KafkaError.closed`.
/// - ``readProducers(timeout:)-3i9hn`` returns produced calls in order (Go's `ReadProducers`),
///   without the producer waiting for the reader.
/// - ``transactionalProducer(_:)`` writes in transactions that consumers see per their isolation
///   level (see ``MockTransactionalProducer``).
public final class MockBroker: SendingClient, TransactionalClient {
    let state: MockState
    /// The clock consumer retry waits go through. Default: a ``VirtualClock``, so waits are instant.
    public let clock: any RetryClock
    private let consumers = NSLock()
    /// The senders made here, so that closing the broker fails the receipts they hold.
    private let senders = Mutex<[WeakMockSender]>([])
    private nonisolated(unsafe) var consumerInstances: [String: MockConsumer] = [:]
    // nonisolated(unsafe): `consumerInstances` is only touched with `consumers` locked.

    /// Answers ``offsetEarliest(_:partition:)`` when set (Go's `OffsetEarliestHandler`).
    public let offsetEarliestHandler: (@Sendable (String, Int32) throws -> Int64)?
    /// Answers ``offsetLatest(_:partition:)`` when set (Go's `OffsetLatestHandler`).
    public let offsetLatestHandler: (@Sendable (String, Int32) throws -> Int64)?

    /// Creates an in-memory cluster holding `topics` (name: partition count).
    /// - Parameters:
    ///   - topics: the topics to create, by name, with their partition counts.
    ///   - autoCreateTopics: create unknown topics on first use with `defaultPartitions`
    ///     partitions (default false: unknown topics are `unknownTopicOrPartition`, as on a real broker).
    ///   - defaultPartitions: the partition count of topics created on first use.
    ///   - clock: where consumer retry waits go; default a ``VirtualClock``.
    ///   - offsetEarliestHandler: when set, answers ``offsetEarliest(_:partition:)``.
    ///   - offsetLatestHandler: when set, answers ``offsetLatest(_:partition:)``.
    public init(
        topics: [String: Int32] = [:], autoCreateTopics: Bool = false, defaultPartitions: Int32 = 1,
        clock: any RetryClock = VirtualClock(),
        offsetEarliestHandler: (@Sendable (String, Int32) throws -> Int64)? = nil,
        offsetLatestHandler: (@Sendable (String, Int32) throws -> Int64)? = nil
    ) {
        state = MockState(autoCreateTopics: autoCreateTopics, defaultPartitions: defaultPartitions)
        self.clock = clock
        self.offsetEarliestHandler = offsetEarliestHandler
        self.offsetLatestHandler = offsetLatestHandler
        for (name, count) in topics { state.logs[name] = Array(repeating: [], count: Int(count)) }
    }

    /// Creates `topic` with `partitions` empty partitions (keeps an existing topic).
    public func createTopic(_ topic: String, partitions: Int32) {
        state.locked {
            if state.logs[topic] == nil { state.logs[topic] = Array(repeating: [], count: Int(partitions)) }
        }
    }

    /// Appends `messages` to `topic`/`partition`, creating partitions up to it
    /// (Go kafkatest.Server's `AddMessages`); returns them stamped with offsets.
    @discardableResult
    public func addMessages(_ topic: String, partition: Int32, _ messages: [Message]) -> [Message] {
        state.locked {
            var partitions = state.logs[topic] ?? []
            while partitions.count <= Int(partition) { partitions.append([]) }
            state.logs[topic] = partitions
            return state.append(topic, partition, messages)
        }
    }

    /// Every message `topic`/`partition` still holds (from its low watermark, 0 unless
    /// ``MockAdmin/deleteRecords(before:)-6tuhk`` moved it), in offset order.
    public func messages(_ topic: String, partition: Int32) -> [Message] {
        state.locked {
            let log = state.logs[topic].flatMap { partition >= 0 && Int(partition) < $0.count ? $0[Int(partition)] : nil } ?? []
            return Array(log.dropFirst(Int(state.logStart(topic, partition))))
        }
    }

    /// Topics, partition logs and committed offsets (what Go's `Server.ServeHTTP` dumped).
    public func snapshot() -> MockSnapshot {
        state.locked {
            MockSnapshot(
                topics: state.logs.mapValues { $0.map(\.count) },
                committed: state.committed.mapValues { $0.mapValues(\.0) }
            )
        }
    }

    /// Empties every topic and forgets commits, produced calls and what transactions wrote or sent
    /// (topics and their settings stay; open transactions stay open; offsets start at 0 again).
    public func reset() {
        state.locked {
            state.logs = state.logs.mapValues { Array(repeating: [], count: $0.count) }
            state.logStarts = [:]
            state.committed = [:]
            state.produced = []
            state.forgetTransactionContents()
        }
    }

    // MARK: Client

    /// A new producer (Go: a new mock per call). Throws `KafkaError.closed` after close.
    public func producer(_ conf: ProducerConf = ProducerConf()) throws -> MockProducer {
        try state.locked { () throws(KafkaError) in try state.checkOpen() }
        return MockProducer(state: state, conf: conf)
    }

    /// A new in-memory sender with a `Sender`'s rules (see ``MockSender``). Throws `KafkaError.closed` after close.
    public func sender(_ conf: SenderConf = SenderConf()) throws -> MockSender {
        try state.locked { () throws(KafkaError) in try state.checkOpen() }
        let sender = MockSender(state: state, conf: conf)
        senders.withLock { senders in
            senders.removeAll { $0.value == nil }
            senders.append(WeakMockSender(value: sender))
        }
        return sender
    }

    /// The consumer of `conf.topic`/`conf.partition`: the same instance for the
    /// same partition (the first conf wins, as in Go). Fails for a missing partition, as the real client does.
    public func consumer(_ conf: ConsumerConf) throws -> MockConsumer {
        let start: Int64 = try state.locked { () throws(KafkaError) -> Int64 in
            try state.checkOpen()
            try state.requirePartition(conf.topic, conf.partition)
            // The newest offset a consumer of this isolation can see: the last stable one for read-committed.
            let count = state.visibleEnd(conf.topic, conf.partition, conf.isolation)
            if let time = conf.startTime {
                // As the real client: the first message stamped at or after `time`, else the end.
                let millis = Int64(Swift.max(0, Swift.min(9.2e18, (time.timeIntervalSince1970 * 1000).rounded(.down))))
                let log = state.logs[conf.topic]?[Int(conf.partition)] ?? []
                // Only what the partition still holds (from its low watermark); a slice keeps the log's indices.
                let held = log.prefix(Int(count)).dropFirst(Int(state.logStart(conf.topic, conf.partition)))
                return held.firstIndex { ($0.timestamp ?? Int64.min) >= millis }.map(Int64.init) ?? count
            }
            return switch conf.startOffset {
            case .oldest: state.logStart(conf.topic, conf.partition)
            case .newest: count
            case .offset(let value): value
            }
        }
        consumers.lock()
        defer { consumers.unlock() }
        let key = "\(conf.topic):\(conf.partition)"
        if let existing = consumerInstances[key] { return existing }
        let created = MockConsumer(state: state, conf: conf, start: start, clock: clock)
        consumerInstances[key] = created
        return created
    }

    /// A member of the in-memory consumer group `conf.group`: members made from this broker
    /// share the group's partitions, as `GroupConsumer`s do.
    /// - Throws: `KafkaError.invalidConfiguration(_:)` for an empty group or no topics;
    ///   `unknownTopicOrPartition` for a topic that does not exist; `KafkaError.closed`.
    public func groupConsumer(_ conf: GroupConsumerConf) throws -> MockGroupConsumer {
        try MockGroupConsumer(state: state, conf: conf, clock: clock)
    }

    /// A new transactional producer for `conf.transactionalID`. Like the real client's, making it
    /// initializes transactions for the id: an earlier producer with the same id has its open
    /// transaction aborted and is fenced (its next call throws the fatal `producerFenced` failure).
    /// - Throws: `KafkaError.invalidConfiguration(_:)` for an empty transactional id, a
    ///   transaction timeout outside 1 s...15 min or a coordinator timeout that is not positive;
    ///   `KafkaError.closed` after close.
    public func transactionalProducer(_ conf: TransactionalProducerConf) throws -> MockTransactionalProducer {
        guard !conf.transactionalID.isEmpty else {
            throw KafkaError.invalidConfiguration("TransactionalProducerConf.transactionalID is empty; name the instance's transactional id")
        }
        guard conf.transactionTimeout >= .seconds(1), conf.transactionTimeout <= .seconds(900) else {
            throw KafkaError.invalidConfiguration("TransactionalProducerConf.transactionTimeout is \(conf.transactionTimeout); use 1 s to 15 min")
        }
        guard conf.coordinatorTimeout > .zero else {
            throw KafkaError.invalidConfiguration("TransactionalProducerConf.coordinatorTimeout is \(conf.coordinatorTimeout); use a positive duration")
        }
        let epoch = try state.locked { () throws(KafkaError) -> Int in
            try state.checkOpen()
            let previous = state.transactionalIDs[conf.transactionalID]
            if let open = previous?.open { state.endTransaction(open, committed: false) }
            let epoch = (previous?.epoch ?? 0) + 1
            state.transactionalIDs[conf.transactionalID] = (epoch, nil)
            return epoch
        }
        return MockTransactionalProducer(state: state, conf: conf, epoch: epoch)
    }

    /// The administration client of this in-memory cluster (`Broker.admin`'s double): topics,
    /// settings, groups, group offsets and records over the same state as everything made here.
    /// Its calls throw `KafkaError.closed` after ``close()``.
    public var admin: MockAdmin { MockAdmin(state: state) }

    /// An offset coordinator of `conf.consumerGroup` over the shared commit store.
    public func offsetCoordinator(_ conf: OffsetCoordinatorConf) throws -> MockOffsetCoordinator {
        try state.locked { () throws(KafkaError) in try state.checkOpen() }
        return MockOffsetCoordinator(state: state, group: conf.consumerGroup)
    }

    /// The handler's answer, else the low watermark of an existing partition (0, Go's default,
    /// unless ``MockAdmin/deleteRecords(before:)-6tuhk`` moved it), else `unknownTopicOrPartition`.
    public func offsetEarliest(_ topic: String, partition: Int32) throws -> Int64 {
        if let offsetEarliestHandler { return try offsetEarliestHandler(topic, partition) }
        _ = try logLength(topic, partition)
        return state.locked { state.logStart(topic, partition) }
    }

    /// The handler's answer, else the partition's length, else `unknownTopicOrPartition` (Go's default).
    public func offsetLatest(_ topic: String, partition: Int32) throws -> Int64 {
        if let offsetLatestHandler { return try offsetLatestHandler(topic, partition) }
        return try logLength(topic, partition)
    }

    /// The number of messages in `topic`/`partition`; `unknownTopicOrPartition` when it does not exist
    /// (the mock never creates topics here, whatever `autoCreateTopics` says, as Go's watermark default).
    private func logLength(_ topic: String, _ partition: Int32) throws(KafkaError) -> Int64 {
        try state.locked { () throws(KafkaError) -> Int64 in
            try state.checkOpen()
            guard let partitions = state.logs[topic], Int(partition) < partitions.count, partition >= 0 else {
                throw .broker(.unknownTopicOrPartition, message: "topic \(topic) partition \(partition) is unknown")
            }
            return Int64(partitions[Int(partition)].count)
        }
    }

    /// The partition count of `topic`, or `unknownTopicOrPartition`.
    public func partitionCount(_ topic: String) throws -> Int32 {
        try state.locked { () throws(KafkaError) -> Int32 in
            try state.checkOpen()
            guard let partitions = state.logs[topic] else { throw .broker(.unknownTopicOrPartition, message: "topic \(topic) not found in metadata") }
            return Int32(partitions.count)
        }
    }

    /// Closes the mock: every later call on it and on what it made throws
    /// `KafkaError.closed`; blocked consumers wake with it; the receipts its senders hold fail
    /// with it. Idempotent.
    public func close() {
        state.locked {
            state.closed = true
            state.condition.broadcast()
        }
        // As closing a Broker closes its senders: held receipts fail with closed.
        for sender in senders.withLock({ $0.compactMap(\.value) }) { sender.close() }
    }

    /// Waits up to `timeout` for the next produce call not yet read and returns it (Go's `ReadProducers`).
    /// - Throws: `KafkaError.timeout(_:)` saying how long it waited.
    public func readProducers(timeout: Duration) throws -> ProducedMessages {
        let deadline = Date().addingTimeInterval(Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18)
        return try state.locked { () throws(KafkaError) -> ProducedMessages in
            while state.produced.isEmpty {
                guard state.condition.wait(until: deadline) || !state.produced.isEmpty else {
                    throw .timeout("no produce call within \(timeout)")
                }
            }
            return state.produced.removeFirst()
        }
    }

    /// The `async` twin of ``readProducers(timeout:)``; waits on a thread outside the cooperative pool.
    public func readProducers(timeout: Duration) async throws -> ProducedMessages {
        try await offPool { try self.readProducers(timeout: timeout) }
    }
}

/// What ``MockBroker/snapshot()`` returns.
public struct MockSnapshot: Sendable, Equatable {
    /// Message count of every partition, by topic.
    public var topics: [String: [Int]]
    /// Committed offsets by group, then by "topic:partition".
    public var committed: [String: [String: Int64]]
}

/// A sender a ``MockBroker`` made, held without keeping it alive.
private struct WeakMockSender: Sendable {
    weak var value: MockSender?
}
