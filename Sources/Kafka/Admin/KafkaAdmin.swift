import Foundation

/// The administration client of a ``Broker``: topics, settings, consumer groups, group offsets,
/// records and the cluster, as Kafka's own tools and franz-go's `kadm` offer them.
///
/// Made by ``Broker/admin``; it shares the broker's connection and lives as long as the broker
/// (closing the broker ends its calls with `KafkaError.closed`). Every call waits up to
/// ``timeout`` (default: the broker's ``BrokerConf/readTimeout``) and has an `async` twin that runs
/// on the library's call pool and is cancellable (the request itself then still completes on the
/// cluster). Calls about many items return one outcome per item: one topic or group that fails
/// does not hide the others' results; the call itself throws only when no answer came at all.
///
/// librdkafka 2.0.2's embedded cluster (`MockCluster` in `KafkaEmbedded`) serves only group
/// offsets of this API; the calls it would mishandle (deleting groups or their offsets, describing
/// groups) throw `unsupportedFeature` there instead of reaching it.
public struct KafkaAdmin: Sendable {
    /// The broker whose connection the calls use.
    public let broker: Broker
    /// How long each call waits for the cluster's answer; default the broker's ``BrokerConf/readTimeout``.
    public var timeout: Duration

    /// An admin client over `broker`'s connection, waiting `timeout` (default the broker's `readTimeout`) per call.
    public init(_ broker: Broker, timeout: Duration? = nil) {
        self.broker = broker
        self.timeout = timeout ?? broker.conf.readTimeout
    }

    // MARK: Cluster

    /// The cluster's id, its controller and its brokers.
    /// - Throws: `KafkaError.timeout(_:)` or the metadata request's error; `KafkaError.closed`.
    public func cluster() throws -> ClusterDescription {
        try broker.checkOpen()
        let metadata = try broker.metadata()
        let identity = try broker.primary.clusterIdentity(timeout: timeout)
        return ClusterDescription(clusterID: identity.clusterID, controllerID: identity.controllerID, brokers: metadata.brokers.sorted { $0.id < $1.id })
    }

    // MARK: Topics

    /// The names of every topic, sorted; internal topics (`__consumer_offsets`, `__transaction_state`) only when `includeInternal`.
    /// - Throws: the metadata request's error; `KafkaError.closed`.
    public func listTopics(includeInternal: Bool = false) throws -> [String] {
        try broker.metadata().topics.map(\.name).filter { includeInternal || !$0.hasPrefix("__") }.sorted()
    }

    /// Each topic's partitions (leader, replicas, in-sync replicas) and, when `configs` (default
    /// false), its settings; a topic that does not exist gets `unknownTopicOrPartition`.
    /// - Throws: only when the metadata could not be read at all; `KafkaError.closed`.
    public func describeTopics(_ names: [String], configs: Bool = false) throws -> [String: Result<TopicDescription, KafkaError>] {
        let metadata = try broker.metadata()
        var settings: [ConfigResource: Result<[String: ConfigEntry], KafkaError>] = [:]
        let known = names.filter { name in metadata.topic(name).map { $0.error == nil } ?? false }
        if configs, !known.isEmpty {
            settings = try broker.primary.describeConfigs(known.map { .topic($0) }, timeout: timeout)
        }
        var outcomes: [String: Result<TopicDescription, KafkaError>] = [:]
        for name in names {
            guard let topic = metadata.topic(name), topic.error == nil else {
                let code = metadata.topic(name)?.error ?? .unknownTopicOrPartition
                outcomes[name] = .failure(.broker(code, message: "topic \(name) not found in metadata"))
                continue
            }
            let partitions = topic.partitions.sorted { $0.id < $1.id }
            if configs {
                switch settings[.topic(name)] {
                case .success(let entries): outcomes[name] = .success(TopicDescription(name: name, partitions: partitions, configs: entries))
                case .failure(let error): outcomes[name] = .failure(error)
                case nil: outcomes[name] = .failure(.timeout("the settings of topic \(name) were not in the answer"))
                }
            } else {
                outcomes[name] = .success(TopicDescription(name: name, partitions: partitions))
            }
        }
        return outcomes
    }

    /// Creates each topic; an illegal name or count fails that topic alone, before any request.
    /// Returns when the controller answered; partitions may take a moment more to get leaders.
    /// - Throws: `KafkaError.timeout(_:)` when the controller did not answer within ``timeout``; `KafkaError.closed`.
    public func createTopics(_ topics: [NewTopic]) throws -> [String: Result<Void, KafkaError>] {
        try broker.checkOpen()
        var outcomes: [String: Result<Void, KafkaError>] = [:]
        var valid: [NewTopic] = []
        for topic in topics {
            do throws(KafkaError) {
                try topic.validate()
                valid.append(topic)
            } catch {
                outcomes[topic.name] = .failure(error)
            }
        }
        guard !valid.isEmpty else { return outcomes }
        for (name, error) in try broker.primary.createTopics(valid, timeout: timeout) { outcomes[name] = Self.outcome(error) }
        return outcomes
    }

    /// Deletes each topic and its data.
    /// - Throws: `KafkaError.timeout(_:)`; `KafkaError.closed`.
    public func deleteTopics(_ names: [String]) throws -> [String: Result<Void, KafkaError>] {
        try broker.checkOpen()
        var outcomes: [String: Result<Void, KafkaError>] = [:]
        let valid = names.filter { name in
            do throws(KafkaError) {
                try validateTopicName(name)
                return true
            } catch {
                outcomes[name] = .failure(error)
                return false
            }
        }
        guard !valid.isEmpty else { return outcomes }
        for (name, error) in try broker.primary.deleteTopics(valid, timeout: timeout) { outcomes[name] = Self.outcome(error) }
        return outcomes
    }

    /// Raises each topic's partition count to the total given (partitions can only be added;
    /// keys placed by hash move to other partitions afterwards).
    /// - Throws: `KafkaError.timeout(_:)`; `KafkaError.closed`.
    public func createPartitions(_ totals: [String: Int32]) throws -> [String: Result<Void, KafkaError>] {
        try broker.checkOpen()
        var outcomes: [String: Result<Void, KafkaError>] = [:]
        var valid: [String: Int32] = [:]
        for (topic, total) in totals {
            if total < 1 {
                outcomes[topic] = .failure(.invalidArgument("topic \(topic) cannot have \(total) partitions; give the new total, above today's"))
            } else {
                valid[topic] = total
            }
        }
        guard !valid.isEmpty else { return outcomes }
        for (name, error) in try broker.primary.createPartitions(valid, timeout: timeout) { outcomes[name] = Self.outcome(error) }
        return outcomes
    }

    // MARK: Settings

    /// Every setting of each topic or broker: its value, source and flags.
    /// - Throws: `KafkaError.timeout(_:)`; `KafkaError.closed`.
    public func describeConfigs(_ resources: [ConfigResource]) throws -> [ConfigResource: Result<[String: ConfigEntry], KafkaError>] {
        try broker.checkOpen()
        guard !resources.isEmpty else { return [:] }
        return try broker.primary.describeConfigs(resources, timeout: timeout)
    }

    /// Sets each resource's dynamic settings to exactly the ones given: Kafka's AlterConfigs
    /// replaces the whole set, so a dynamic setting not named returns to its default. To change
    /// one setting, read the others with ``describeConfigs(_:)-9p7e1`` first (``changeConfigs(_:)-7k0i1`` does).
    /// - Throws: `KafkaError.timeout(_:)`; `KafkaError.closed`.
    public func alterConfigs(_ changes: [ConfigResource: [String: String]]) throws -> [ConfigResource: Result<Void, KafkaError>] {
        try broker.checkOpen()
        guard !changes.isEmpty else { return [:] }
        return try broker.primary.alterConfigs(changes, timeout: timeout).mapValues(Self.outcome)
    }

    /// Changes the settings named in each resource and keeps its other dynamic settings (read
    /// first, then written back with the changes: what IncrementalAlterConfigs does, which
    /// librdkafka 2.0.2 lacks). Not atomic against another writer between the read and the write.
    /// - Throws: `KafkaError.timeout(_:)`; `KafkaError.closed`.
    public func changeConfigs(_ changes: [ConfigResource: [String: String]]) throws -> [ConfigResource: Result<Void, KafkaError>] {
        let current = try describeConfigs(Array(changes.keys))
        var merged: [ConfigResource: [String: String]] = [:]
        var outcomes: [ConfigResource: Result<Void, KafkaError>] = [:]
        for (resource, settings) in changes {
            switch current[resource] {
            case .success(let entries):
                var kept: [String: String] = [:]
                for (name, entry) in entries where Self.isDynamic(entry.source, of: resource) && !entry.isReadOnly && !entry.isSensitive {
                    if let value = entry.value { kept[name] = value }
                }
                merged[resource] = kept.merging(settings) { _, new in new }
            case .failure(let error): outcomes[resource] = .failure(error)
            case nil: outcomes[resource] = .failure(.timeout("the settings of \(resource) were not in the answer"))
            }
        }
        return outcomes.merging(try alterConfigs(merged)) { first, _ in first }
    }

    // MARK: Consumer groups

    /// Every consumer group the brokers know, sorted by id, with its state.
    /// - Throws: `KafkaError.timeout(_:)` or the brokers' error when none answered; `KafkaError.closed`.
    public func listGroups() throws -> [GroupListing] {
        try broker.checkOpen()
        return try broker.primary.listGroups(timeout: timeout)
    }

    /// Each group's state, assignor, coordinator and members with their partitions.
    /// - Throws: `KafkaError.timeout(_:)`; `KafkaError.closed`; `unsupportedFeature` on the embedded cluster.
    public func describeGroups(_ groups: [String]) throws -> [String: Result<GroupDescription, KafkaError>] {
        try refuseOnEmbeddedCluster("DescribeConsumerGroups")
        guard !groups.isEmpty else { return [:] }
        return try broker.primary.describeGroups(groups, timeout: timeout)
    }

    /// Deletes each group and its committed offsets; a group with members is refused (`nonEmptyGroup`).
    /// - Throws: `KafkaError.timeout(_:)`; `KafkaError.closed`; `unsupportedFeature` on the embedded cluster.
    public func deleteGroups(_ groups: [String]) throws -> [String: Result<Void, KafkaError>] {
        try refuseOnEmbeddedCluster("DeleteGroups")
        guard !groups.isEmpty else { return [:] }
        return try broker.primary.deleteGroups(groups, timeout: timeout).mapValues(Self.outcome)
    }

    /// The committed offsets of `group` (see ``Broker/committedOffsets(group:topics:)-hzry``).
    public func committedOffsets(group: String, topics: [String]? = nil) throws -> [TopicPartition: Int64] {
        try broker.committedOffsets(group: group, topics: topics)
    }

    /// How far behind `group` is per partition (see ``Broker/lag(group:topics:)-2q6j8``).
    public func lag(group: String, topics: [String]? = nil) throws -> [TopicPartition: GroupLag] {
        try broker.lag(group: group, topics: topics)
    }

    /// Sets `group`'s committed offsets (see ``Broker/resetOffsets(group:to:)-56sml``).
    public func resetOffsets(group: String, to offsets: [TopicPartition: Int64]) throws {
        try broker.resetOffsets(group: group, to: offsets)
    }

    /// The offsets a reset of `group` to `target` in every partition of `topic` would commit,
    /// beside what it has committed now: the plan `kafka-consumer-groups --reset-offsets` prints
    /// without `--execute`. Pass `plan.mapValues(\.target)` to ``resetOffsets(group:to:)-1vm5z`` to run it.
    /// - Throws: `unknownTopicOrPartition`; `KafkaError.invalidArgument(_:)` for a negative offset or
    ///   a time in the future (``ResetTarget/validate(now:)``); the queries' errors.
    public func planReset(group: String, topic: String, to target: ResetTarget) throws -> [TopicPartition: ResetStep] {
        try target.validate()
        let committed = try broker.committedOffsets(group: group, topics: [topic])
        let byTime: [TopicPartition: Int64] = if case .time(let date) = target { try broker.offsets(at: date, topic: topic) } else { [:] }
        var plan: [TopicPartition: ResetStep] = [:]
        for partition in 0..<(try broker.partitionCount(topic)) {
            let key = TopicPartition(topic, partition)
            let (low, high) = try broker.watermarks(topic, partition: partition)
            let next: Int64 = switch target {
            case .earliest: low
            case .latest: high
            case .time: byTime[key].flatMap { $0 >= 0 ? $0 : nil } ?? high
            case .offset(let offset): Swift.min(Swift.max(offset, low), high)
            }
            plan[key] = ResetStep(current: committed[key], target: next)
        }
        return plan
    }

    /// Deletes `group`'s committed offsets of `partitions` (the group must not be reading them).
    /// - Throws: the coordinator's error for the whole group (e.g. `groupIdNotFound`); `KafkaError.timeout(_:)`;
    ///   `KafkaError.closed`; `unsupportedFeature` on the embedded cluster.
    public func deleteCommittedOffsets(group: String, partitions: [TopicPartition]) throws -> [TopicPartition: Result<Void, KafkaError>] {
        try refuseOnEmbeddedCluster("DeleteConsumerGroupOffsets")
        guard !group.isEmpty else { throw KafkaError.invalidArgument("the group id is empty; name the consumer group") }
        guard !partitions.isEmpty else { return [:] }
        return try broker.primary.deleteGroupOffsets(group, partitions, timeout: timeout).mapValues(Self.outcome)
    }

    // MARK: Records

    /// Deletes every record before the offset given in each partition (-1: before the high
    /// watermark, everything); each partition's new low watermark, or its error.
    /// - Throws: `KafkaError.timeout(_:)`; `KafkaError.closed`.
    public func deleteRecords(before offsets: [TopicPartition: Int64]) throws -> [TopicPartition: Result<Int64, KafkaError>] {
        try broker.checkOpen()
        var outcomes: [TopicPartition: Result<Int64, KafkaError>] = [:]
        var valid: [TopicPartition: Int64] = [:]
        for (partition, offset) in offsets {
            if offset < -1 {
                outcomes[partition] = .failure(.invalidArgument("offset \(offset) for \(partition) is below -1 (-1 deletes everything)"))
            } else {
                valid[partition] = offset
            }
        }
        guard !valid.isEmpty else { return outcomes }
        return outcomes.merging(try broker.primary.deleteRecords(before: valid, timeout: timeout)) { first, _ in first }
    }

    // MARK: Internals

    private static func outcome(_ error: KafkaError?) -> Result<Void, KafkaError> {
        error.map { .failure($0) } ?? .success(())
    }

    private static func isDynamic(_ source: ConfigEntry.Source, of resource: ConfigResource) -> Bool {
        switch resource {
        case .topic: source == .dynamicTopic
        case .broker: source == .dynamicBroker
        }
    }

    /// librdkafka 2.0.2's embedded cluster aborts the process on DeleteGroups and
    /// DeleteConsumerGroupOffsets and never completes DescribeConsumerGroups (closing hangs).
    private func refuseOnEmbeddedCluster(_ api: String) throws {
        try broker.checkOpen()
        guard let id = try broker.primary.clusterIdentity(timeout: timeout).clusterID, id.hasPrefix(Self.embeddedClusterIDPrefix) else { return }
        throw KafkaError.local(
            code: LocalErrorCode.unsupportedFeature,
            message: "the embedded cluster (librdkafka's mock) does not serve \(api); run it against a Kafka cluster"
        )
    }

    /// How librdkafka's mock cluster names itself in metadata.
    static let embeddedClusterIDPrefix = "mockCluster"
}

/// One partition of a planned group reset: where the group stands and where the reset moves it.
public struct ResetStep: Sendable, Hashable {
    /// The group's committed offset now; nil when it has none.
    public let current: Int64?
    /// The offset the reset commits.
    public let target: Int64

    /// A step from `current` to `target`.
    public init(current: Int64?, target: Int64) {
        self.current = current
        self.target = target
    }
}

extension Broker {
    /// The administration client over this broker's connection, waiting ``BrokerConf/readTimeout`` per call.
    public var admin: KafkaAdmin { KafkaAdmin(self) }
}
