import Foundation
import Kafka

/// The in-memory double of `KafkaAdmin`: an `AdminClient` over a ``MockBroker``'s own state,
/// made by ``MockBroker/admin``. What it changes, the broker's producers, consumers, group members
/// and offset coordinators see at once, and the other way round.
///
/// Each call answers as `KafkaAdmin` does against a one-broker Kafka cluster: the same per-item
/// outcomes (one bad item fails alone), the same checks before any request with the same
/// messages, and the broker's error codes where Kafka's broker would refuse:
///
/// - The cluster is one broker, ``broker`` (node 1 at 127.0.0.1:9092; nothing listens there),
///   which is the controller, every partition's leader and only replica, and every group's
///   coordinator; its id is ``clusterID``.
/// - Topics: creating an existing one is `topicAlreadyExists`, one whose name collides with another
///   once `.` and `_` are alike `invalidTopic`, a replication factor above 1 (the broker count)
///   `invalidReplicationFactor`, a replica assignment naming another broker `invalidReplicaAssignment`,
///   an unknown setting or bad value `invalidConfig`. Deleting a topic drops its records, settings
///   and every group's committed offsets in it. Creating, deleting or growing a topic rebalances
///   the groups subscribed to it, as the real members would at their next metadata refresh.
/// - Settings: a topic reports all of Kafka's topic settings, its own with source `.dynamicTopic`,
///   the rest Kafka 3.9's defaults with `.defaultConfig`. Broker 1 reports only the dynamic settings
///   set on it (a real broker reports its whole configuration); broker settings are stored
///   unchecked. Another broker id is `invalidRequest`.
/// - Groups: a group exists while it has committed offsets, or once members (``MockGroupConsumer``s)
///   joined it, until it is deleted (Kafka keeps an emptied group until its offsets expire);
///   it is `.stable` with members, `.empty` without, `.dead` (and empty) when unknown, and
///   "simple" when no member ever joined it. Member ids are `"<client.id>-<n>"`, with `client.id`
///   from the member's `properties`, else `swift-kafka`; their host is `/127.0.0.1`.
/// - Offsets: a group with members refuses ``resetOffsets(group:to:)-4a5ig`` with `unknownConsumerID`
///   (Kafka's UNKNOWN_MEMBER_ID) whichever partitions it reads, as Kafka's coordinator does, and
///   ``deleteCommittedOffsets(group:partitions:)-9n8bt`` of a topic it subscribes to with `groupSubscribedToTopic`.
/// - Records: ``deleteRecords(before:)-6tuhk`` moves the partition's low watermark, which
///   ``MockBroker/offsetEarliest(_:partition:)`` then reports; a consumer reading below it gets
///   `offsetOutOfRange` and a group member starts again per its `startOffset`.
///   ``planReset(group:topic:to:)-12new`` to `.time` uses the messages' timestamps (those without one never match).
///
/// Every call throws `KafkaError.closed` once the broker is closed. Each has an `async` twin that
/// throws `CancellationError` in a cancelled task, else answers in place (the mock never waits).
public struct MockAdmin: AdminClient {
    let state: MockState

    init(state: MockState) {
        self.state = state
    }

    /// The one broker of the in-memory cluster: node 1 at 127.0.0.1:9092 (nothing listens there).
    public static let broker = BrokerMetadata(id: 1, host: "127.0.0.1", port: 9092)
    /// The cluster id ``cluster()-4kah3`` reports: `"mock-broker"`.
    public static let clusterID = "mock-broker"
    /// The most partitions one topic may have in the mock (each is an array in memory): 100,000.
    /// Asking for more fails with `policyViolation`.
    public static let maxPartitions: Int32 = 100_000

    // MARK: Cluster

    /// The cluster: id ``clusterID``, controller 1, and ``broker`` as its only broker.
    /// - Throws: `KafkaError.closed` after the broker was closed.
    public func cluster() throws -> ClusterDescription {
        try withOpenState { ClusterDescription(clusterID: Self.clusterID, controllerID: Self.broker.id, brokers: [Self.broker]) }
    }

    // MARK: Topics

    /// Every topic's name, sorted; names starting with `__` only when `includeInternal` (default false).
    /// - Throws: `KafkaError.closed`.
    public func listTopics(includeInternal: Bool = false) throws -> [String] {
        try withOpenState { state.logs.keys.filter { includeInternal || !$0.hasPrefix("__") }.sorted() }
    }

    /// Each topic's partitions (leader 1, replicas and in-sync replicas `[1]`) and, when `configs`
    /// (default false), its settings as ``describeConfigs(_:)-7suu5`` reads them; a topic that does not
    /// exist gets `unknownTopicOrPartition` ("topic NAME not found in metadata").
    /// - Throws: `KafkaError.closed`.
    public func describeTopics(_ names: [String], configs: Bool = false) throws -> [String: Result<TopicDescription, KafkaError>] {
        try withOpenState { () throws(KafkaError) in
            var outcomes: [String: Result<TopicDescription, KafkaError>] = [:]
            for name in names {
                guard let partitions = state.logs[name] else {
                    outcomes[name] = .failure(.broker(.unknownTopicOrPartition, message: "topic \(name) not found in metadata"))
                    continue
                }
                let metadata = (0..<Int32(partitions.count)).map {
                    PartitionMetadata(id: $0, leader: Self.broker.id, replicas: [Self.broker.id], inSyncReplicas: [Self.broker.id])
                }
                outcomes[name] = .success(TopicDescription(name: name, partitions: metadata, configs: configs ? topicEntries(name) : nil))
            }
            return outcomes
        }
    }

    /// Creates each topic, with its settings; partitions start empty at offset 0. An illegal name
    /// or count fails with `KafkaAdmin`'s `invalidArgument`; the broker's refusals are listed on
    /// ``MockAdmin``. A name given twice in one call fails with `invalidRequest`, as Kafka answers.
    /// - Throws: `KafkaError.closed`.
    public func createTopics(_ topics: [NewTopic]) throws -> [String: Result<Void, KafkaError>] {
        try withOpenState { () throws(KafkaError) in
            var outcomes: [String: Result<Void, KafkaError>] = [:]
            var valid: [NewTopic] = []
            for topic in topics {
                switch outcome({ () throws(KafkaError) in try topic.validate() }) {
                case .success: valid.append(topic)
                case .failure(let error): outcomes[topic.name] = .failure(error)
                }
            }
            let twice = repeated(valid.map(\.name))
            for topic in valid {
                outcomes[topic.name] = twice.contains(topic.name)
                    ? .failure(.broker(.invalidRequest, message: "topic \(topic.name) is named more than once in one request"))
                    : outcome { () throws(KafkaError) in try create(topic) }
            }
            return outcomes
        }
    }

    /// Deletes each topic: its records, settings and low watermarks, and every group's committed
    /// offsets in it. An illegal name fails with `invalidArgument`, an unknown topic with
    /// `unknownTopicOrPartition`, a name given twice with `invalidRequest`.
    /// - Throws: `KafkaError.closed`.
    public func deleteTopics(_ names: [String]) throws -> [String: Result<Void, KafkaError>] {
        try withOpenState { () throws(KafkaError) in
            var outcomes: [String: Result<Void, KafkaError>] = [:]
            let valid = names.filter { name in
                if case .failure(let error) = outcome({ () throws(KafkaError) in try KafkaNames.validateTopic(name) }) {
                    outcomes[name] = .failure(error)
                    return false
                }
                return true
            }
            let twice = repeated(valid)
            for name in valid {
                if twice.contains(name) {
                    outcomes[name] = .failure(.broker(.invalidRequest, message: "topic \(name) is named more than once in one request"))
                } else if state.logs[name] == nil {
                    outcomes[name] = .failure(.broker(.unknownTopicOrPartition, message: "topic \(name) does not exist"))
                } else {
                    remove(name)
                    outcomes[name] = .success(())
                }
            }
            return outcomes
        }
    }

    /// Raises each topic's partition count to the total given; the new partitions start empty.
    /// A total below 1 fails with `KafkaAdmin`'s `invalidArgument`; a total not above today's with
    /// `invalidPartitions`, an unknown topic with `unknownTopicOrPartition`, as Kafka answers.
    /// - Throws: `KafkaError.closed`.
    public func createPartitions(_ totals: [String: Int32]) throws -> [String: Result<Void, KafkaError>] {
        try withOpenState { () throws(KafkaError) in
            var outcomes: [String: Result<Void, KafkaError>] = [:]
            for (topic, total) in totals {
                guard total >= 1 else {
                    outcomes[topic] = .failure(.invalidArgument("topic \(topic) cannot have \(total) partitions; give the new total, above today's"))
                    continue
                }
                outcomes[topic] = outcome { () throws(KafkaError) in try grow(topic, to: total) }
            }
            return outcomes
        }
    }

    // MARK: Records

    /// Deletes every record before the offset given in each partition (-1: before the high
    /// watermark, everything) by moving its low watermark, which never moves back; each
    /// partition's new low watermark. An offset below -1 fails with `KafkaAdmin`'s
    /// `invalidArgument`; as Kafka answers, an offset past the high watermark with
    /// `offsetOutOfRange`, an unknown partition with `unknownTopicOrPartition`, a partition of a
    /// topic whose `cleanup.policy` lacks `delete` with `policyViolation`.
    /// - Throws: `KafkaError.closed`.
    public func deleteRecords(before offsets: [TopicPartition: Int64]) throws -> [TopicPartition: Result<Int64, KafkaError>] {
        try withOpenState { () throws(KafkaError) in
            var outcomes: [TopicPartition: Result<Int64, KafkaError>] = [:]
            for (partition, offset) in offsets {
                guard offset >= -1 else {
                    outcomes[partition] = .failure(.invalidArgument("offset \(offset) for \(partition) is below -1 (-1 deletes everything)"))
                    continue
                }
                outcomes[partition] = outcome { () throws(KafkaError) in try deleteRecords(partition, before: offset) }
            }
            return outcomes
        }
    }

    // MARK: Internals (state lock held)

    /// Runs `body` with the state lock held, once the broker is known to be open.
    func withOpenState<R>(_ body: () throws(KafkaError) -> R) throws(KafkaError) -> R {
        try state.locked { () throws(KafkaError) -> R in
            try state.checkOpen()
            return try body()
        }
    }

    /// Creates `topic` as Kafka's controller would on a one-broker cluster.
    private func create(_ topic: NewTopic) throws(KafkaError) {
        let name = topic.name
        guard state.logs[name] == nil else { throw .broker(.topicAlreadyExists, message: "Topic '\(name)' already exists.") }
        // Kafka refuses names that differ only by '.' against '_': they share metric names.
        let folded = name.replacingOccurrences(of: ".", with: "_")
        if let other = state.logs.keys.sorted().first(where: { $0.replacingOccurrences(of: ".", with: "_") == folded }) {
            throw .broker(.invalidTopic, message: "Topic '\(name)' collides with existing topic: \(other)")
        }
        let count: Int32
        if let assignment = topic.replicaAssignment {
            for (index, brokers) in assignment.enumerated() {
                guard Set(brokers).count == brokers.count else {
                    throw .broker(.invalidReplicaAssignment, message: "Duplicate brokers not allowed in replica assignment: \(brokers) for partition id \(index).")
                }
                guard brokers.allSatisfy({ $0 == Self.broker.id }) else {
                    throw .broker(.invalidReplicaAssignment, message: "Unknown broker(s) in replica assignment: \(brokers.filter { $0 != Self.broker.id }); the only broker is \(Self.broker.id).")
                }
            }
            guard assignment.count <= Int(Self.maxPartitions) else { throw Self.tooManyPartitions(name, assignment.count) }
            count = Int32(assignment.count)
        } else {
            guard topic.replicationFactor <= 1 else {
                throw .broker(.invalidReplicationFactor, message: "Replication factor: \(topic.replicationFactor) larger than available brokers: 1.")
            }
            guard topic.partitions <= Self.maxPartitions else { throw Self.tooManyPartitions(name, Int(topic.partitions)) }
            count = topic.partitions
        }
        try MockTopicConfigs.validate(topic.configs)
        state.logs[name] = Array(repeating: [], count: Int(count))
        if !topic.configs.isEmpty { state.topicConfigs[name] = topic.configs }
        rebalanceSubscribers(of: name)
    }

    private static func tooManyPartitions(_ topic: String, _ count: Int) -> KafkaError {
        .broker(.policyViolation, message: "topic \(topic) would have \(count) partitions; the in-memory cluster holds at most \(maxPartitions) per topic")
    }

    /// Adds partitions to `topic` up to `total`, as Kafka's controller would.
    private func grow(_ topic: String, to total: Int32) throws(KafkaError) {
        guard let partitions = state.logs[topic] else { throw .broker(.unknownTopicOrPartition, message: "The topic '\(topic)' does not exist.") }
        let current = Int32(partitions.count)
        guard total > current else {
            throw .broker(.invalidPartitions, message: total == current
                ? "Topic already has \(current) partitions."
                : "Topic currently has \(current) partitions, which is higher than the requested \(total).")
        }
        guard total <= Self.maxPartitions else { throw Self.tooManyPartitions(topic, Int(total)) }
        state.logs[topic] = partitions + Array(repeating: [], count: Int(total - current))
        rebalanceSubscribers(of: topic)
    }

    /// Forgets `topic`: records, settings, low watermarks, transaction marks, committed offsets.
    private func remove(_ topic: String) {
        state.logs[topic] = nil
        state.topicConfigs[topic] = nil
        state.logStarts = state.logStarts.filter { $0.key.topic != topic }
        state.transactionMarks = state.transactionMarks.filter { $0.key.topic != topic }
        for number in state.transactions.keys {
            state.transactions[number]?.firstOffsets = state.transactions[number]?.firstOffsets.filter { $0.key.topic != topic } ?? [:]
        }
        for group in state.committed.keys.sorted() {
            let kept = state.committed[group]?.filter { Self.partition(ofCommittedKey: $0.key)?.topic != topic } ?? [:]
            state.committed[group] = kept.isEmpty ? nil : kept
        }
        // Members blocked on a partition that is gone wake up to their revocation.
        rebalanceSubscribers(of: topic)
    }

    /// Moves the low watermark of `partition` to `offset` (-1: the high watermark); the new one.
    private func deleteRecords(_ partition: TopicPartition, before offset: Int64) throws(KafkaError) -> Int64 {
        guard let partitions = state.logs[partition.topic], partition.partition >= 0, Int(partition.partition) < partitions.count else {
            throw .broker(.unknownTopicOrPartition, message: "\(partition) does not exist")
        }
        let policy = (state.topicConfigs[partition.topic]?["cleanup.policy"] ?? "delete").split(separator: ",")
        guard policy.contains(where: { $0.trimmingCharacters(in: .whitespaces) == "delete" }) else {
            throw .broker(.policyViolation, message: "Records of partition \(partition) can not be deleted due to the configured policy")
        }
        let high = Int64(partitions[Int(partition.partition)].count)
        let target = offset == -1 ? high : offset
        guard target <= high else {
            throw .broker(.offsetOutOfRange, message: "Cannot increment the log start offset to \(target) of partition \(partition) since it is larger than the high watermark \(high)")
        }
        let low = max(state.logStart(partition.topic, partition.partition), target)
        if low > 0 { state.logStarts[partition] = low }
        return low
    }

    /// Recomputes the assignment of every group a member of which subscribes to `topic`, after
    /// the topic appeared, grew or went: real members notice at their next metadata refresh.
    func rebalanceSubscribers(of topic: String) {
        for group in state.groups.members.keys.sorted() where state.groups.members[group]?.contains(where: { $0.conf.topics.contains(topic) }) == true {
            state.groups.rebalance(group) { Int32(state.logs[$0]?.count ?? 0) }
        }
        state.condition.broadcast()
    }

    /// The `TopicPartition` a key of `MockState.committed` ("topic:partition") names.
    static func partition(ofCommittedKey key: String) -> TopicPartition? {
        guard let colon = key.lastIndex(of: ":"), let number = Int32(key[key.index(after: colon)...]) else { return nil }
        return TopicPartition(String(key[..<colon]), number)
    }
}

/// The outcome of `body`: its value, or the error it threw.
func outcome<T>(_ body: () throws(KafkaError) -> T) -> Result<T, KafkaError> {
    do throws(KafkaError) {
        return .success(try body())
    } catch {
        return .failure(error)
    }
}

/// The elements `items` holds more than once.
func repeated<Element: Hashable>(_ items: [Element]) -> Set<Element> {
    var seen: Set<Element> = []
    var twice: Set<Element> = []
    for item in items where !seen.insert(item).inserted { twice.insert(item) }
    return twice
}
