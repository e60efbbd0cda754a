import Foundation

/// A topic to create with ``KafkaAdmin/createTopics(_:)-458rv``.
public struct NewTopic: Sendable, Hashable {
    /// The topic's name.
    public var name: String
    /// How many partitions it has (at least 1). Ignored when `replicaAssignment` is given.
    public var partitions: Int32
    /// On how many brokers each partition lives (at least 1). Ignored when `replicaAssignment` is given.
    public var replicationFactor: Int32
    /// Topic-level settings, e.g. `["retention.ms": "60000"]`; default none (the broker's defaults).
    public var configs: [String: String]
    /// The broker ids of each partition's replicas, partition 0 first (the first id is the
    /// preferred leader); default nil, the controller places them.
    public var replicaAssignment: [[Int32]]?

    /// A topic of `partitions` partitions on `replicationFactor` brokers each.
    public init(
        _ name: String, partitions: Int32, replicationFactor: Int32 = 1, configs: [String: String] = [:],
        replicaAssignment: [[Int32]]? = nil
    ) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.configs = configs
        self.replicaAssignment = replicaAssignment
    }

    /// Checks what a cluster would refuse before any request: an illegal name, counts below 1, an
    /// empty replica assignment. ``KafkaAdmin/createTopics(_:)-458rv`` fails such a topic alone with it.
    /// - Throws: `KafkaError.invalidArgument(_:)` naming the topic and the problem.
    public func validate() throws(KafkaError) {
        try validateTopicName(name)
        if let assignment = replicaAssignment {
            guard !assignment.isEmpty, assignment.allSatisfy({ !$0.isEmpty }) else {
                throw .invalidArgument("topic \(name): every partition of a replica assignment needs at least one broker")
            }
        } else {
            guard partitions >= 1 else { throw .invalidArgument("topic \(name) needs at least 1 partition, not \(partitions)") }
            guard replicationFactor >= 1 else {
                throw .invalidArgument("topic \(name) needs a replication factor of at least 1, not \(replicationFactor)")
            }
        }
    }
}

/// A topic as the cluster describes it: its partitions and, when asked for, its settings.
public struct TopicDescription: Sendable, Hashable {
    /// The topic's name.
    public let name: String
    /// Its partitions in id order: leader, replicas and in-sync replicas of each.
    public let partitions: [PartitionMetadata]
    /// Its settings, by name; nil when not asked for.
    public let configs: [String: ConfigEntry]?

    /// A description of `name`.
    public init(name: String, partitions: [PartitionMetadata], configs: [String: ConfigEntry]? = nil) {
        self.name = name
        self.partitions = partitions
        self.configs = configs
    }
}

/// What a setting belongs to: a topic, or one broker.
public enum ConfigResource: Sendable, Hashable, CustomStringConvertible {
    /// A topic's settings (`retention.ms`, `cleanup.policy`, ...).
    case topic(String)
    /// One broker's settings, by its node id.
    case broker(Int32)

    /// "topic NAME" or "broker ID".
    public var description: String {
        switch self {
        case .topic(let name): "topic \(name)"
        case .broker(let id): "broker \(id)"
        }
    }
}

/// One setting of a topic or broker, as ``KafkaAdmin/describeConfigs(_:)-9p7e1`` reads it.
public struct ConfigEntry: Sendable, Hashable {
    /// Where a setting's value comes from.
    public enum Source: Sendable, Hashable {
        /// Set on this topic.
        case dynamicTopic
        /// Set on this broker while it runs.
        case dynamicBroker
        /// Set as the default of every broker while they run.
        case dynamicDefaultBroker
        /// The broker's configuration file.
        case staticBroker
        /// Kafka's built-in default.
        case defaultConfig
        /// The broker did not say.
        case unknown
    }

    /// The setting's name, e.g. `retention.ms`.
    public let name: String
    /// Its value; nil when the broker withholds it (a sensitive setting) or it has none.
    public let value: String?
    /// Where the value comes from.
    public let source: Source
    /// True when the value is the default (not set anywhere).
    public let isDefault: Bool
    /// True when it cannot be changed with ``KafkaAdmin/alterConfigs(_:)-5ekxc``.
    public let isReadOnly: Bool
    /// True for a secret (a password); its value is then nil.
    public let isSensitive: Bool

    /// A setting as read.
    public init(name: String, value: String?, source: Source, isDefault: Bool, isReadOnly: Bool, isSensitive: Bool) {
        self.name = name
        self.value = value
        self.source = source
        self.isDefault = isDefault
        self.isReadOnly = isReadOnly
        self.isSensitive = isSensitive
    }
}

/// The state of a consumer group, as its coordinator reports it.
public enum GroupState: String, Sendable, Hashable, CaseIterable {
    /// Members are joining; assignments are being made.
    case preparingRebalance = "PreparingRebalance"
    /// The leader's assignment is being handed to the members.
    case completingRebalance = "CompletingRebalance"
    /// Every member has its partitions.
    case stable = "Stable"
    /// The group has no members and no committed offsets, and is being removed.
    case dead = "Dead"
    /// The group has no members (it may still have committed offsets).
    case empty = "Empty"
    /// The coordinator did not say.
    case unknown = "Unknown"
}

/// A consumer group as ``KafkaAdmin/listGroups()-9y2pp`` finds it.
public struct GroupListing: Sendable, Hashable {
    /// The group id.
    public let id: String
    /// Its state.
    public let state: GroupState
    /// True for a group that only commits offsets (no members join it).
    public let isSimple: Bool

    /// A listed group.
    public init(id: String, state: GroupState, isSimple: Bool) {
        self.id = id
        self.state = state
        self.isSimple = isSimple
    }
}

/// One member of a consumer group and the partitions assigned to it.
public struct GroupMember: Sendable, Hashable {
    /// The member id the coordinator gave it.
    public let memberID: String
    /// The `client.id` it connected with.
    public let clientID: String
    /// The host it connected from.
    public let host: String
    /// Its static membership id (`group.instance.id`), if it has one.
    public let groupInstanceID: String?
    /// The partitions assigned to it, sorted.
    public let assignment: [TopicPartition]

    /// A member as described.
    public init(memberID: String, clientID: String, host: String, groupInstanceID: String? = nil, assignment: [TopicPartition]) {
        self.memberID = memberID
        self.clientID = clientID
        self.host = host
        self.groupInstanceID = groupInstanceID
        self.assignment = assignment
    }
}

/// A consumer group as ``KafkaAdmin/describeGroups(_:)-74g32`` describes it.
public struct GroupDescription: Sendable, Hashable {
    /// The group id.
    public let id: String
    /// Its state.
    public let state: GroupState
    /// The assignor its members agreed on (e.g. `range`, `cooperative-sticky`); empty without members.
    public let partitionAssignor: String
    /// True for a group that only commits offsets.
    public let isSimple: Bool
    /// The node id of its coordinator, when known.
    public let coordinator: Int32?
    /// Its members.
    public let members: [GroupMember]

    /// A described group.
    public init(id: String, state: GroupState, partitionAssignor: String, isSimple: Bool, coordinator: Int32?, members: [GroupMember]) {
        self.id = id
        self.state = state
        self.partitionAssignor = partitionAssignor
        self.isSimple = isSimple
        self.coordinator = coordinator
        self.members = members
    }
}

/// The cluster as a whole: its id, its controller and its brokers.
public struct ClusterDescription: Sendable, Hashable {
    /// The cluster id; nil when the brokers do not report one.
    public let clusterID: String?
    /// The node id of the controller; nil when the brokers do not report one.
    public let controllerID: Int32?
    /// Every broker the cluster advertises.
    public let brokers: [BrokerMetadata]

    /// A cluster as described.
    public init(clusterID: String?, controllerID: Int32?, brokers: [BrokerMetadata]) {
        self.clusterID = clusterID
        self.controllerID = controllerID
        self.brokers = brokers
    }
}

/// Where ``KafkaAdmin/planReset(group:topic:to:)-10vzz`` moves a group in each partition of a topic.
public enum ResetTarget: Sendable, Hashable {
    /// The first offset still held (the low watermark).
    case earliest
    /// The end (the high watermark): the group skips everything written so far.
    case latest
    /// The first message written at or after this time; the end where none is that recent.
    case time(Date)
    /// This offset in every partition, held within the partition's watermarks.
    case offset(Int64)

    /// Checks what no reset can mean: a negative offset, a time in the future (nothing was written
    /// then yet; ``latest`` says "skip to the end").
    /// - Throws: `KafkaError.invalidArgument(_:)` saying what to give instead.
    public func validate(now: Date = Date()) throws(KafkaError) {
        switch self {
        case .offset(let offset) where offset < 0:
            throw .invalidArgument("offset \(offset) is negative; give the next offset the group reads")
        case .time(let date) where date > now:
            throw .invalidArgument("reset time \(date.ISO8601Format()) is in the future; give a past time, or reset to the latest offset")
        default: return
        }
    }
}

