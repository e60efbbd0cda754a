/// What ``KafkaAdmin`` offers, as a protocol, so that code that administers a cluster runs
/// unchanged on `KafkaTest`'s in-memory `MockAdmin`. Each call's meaning, defaults and errors are
/// ``KafkaAdmin``'s; calls about many items return one outcome per item.
///
/// A conformer writes its own `async` twins: Swift lets a synchronous method witness an `async`
/// requirement, so a default in an extension would never run and calls through the protocol
/// would block the task. ``KafkaAdmin`` runs its twins on the call pool.
public protocol AdminClient: Sendable {
    /// The cluster's id, its controller and its brokers.
    func cluster() throws -> ClusterDescription
    /// Every topic's name, sorted; internal ones only when asked.
    func listTopics(includeInternal: Bool) throws -> [String]
    /// Each topic's partitions and, when `configs`, its settings.
    func describeTopics(_ names: [String], configs: Bool) throws -> [String: Result<TopicDescription, KafkaError>]
    /// Creates each topic.
    func createTopics(_ topics: [NewTopic]) throws -> [String: Result<Void, KafkaError>]
    /// Deletes each topic.
    func deleteTopics(_ names: [String]) throws -> [String: Result<Void, KafkaError>]
    /// Raises each topic's partition count to the total given.
    func createPartitions(_ totals: [String: Int32]) throws -> [String: Result<Void, KafkaError>]
    /// Every setting of each resource.
    func describeConfigs(_ resources: [ConfigResource]) throws -> [ConfigResource: Result<[String: ConfigEntry], KafkaError>]
    /// Replaces each resource's dynamic settings with the ones given.
    func alterConfigs(_ changes: [ConfigResource: [String: String]]) throws -> [ConfigResource: Result<Void, KafkaError>]
    /// Changes the named settings of each resource, keeping its other dynamic settings.
    func changeConfigs(_ changes: [ConfigResource: [String: String]]) throws -> [ConfigResource: Result<Void, KafkaError>]
    /// Every consumer group, sorted by id.
    func listGroups() throws -> [GroupListing]
    /// Each group's state and members.
    func describeGroups(_ groups: [String]) throws -> [String: Result<GroupDescription, KafkaError>]
    /// Deletes each group and its committed offsets.
    func deleteGroups(_ groups: [String]) throws -> [String: Result<Void, KafkaError>]
    /// A group's committed offsets in `topics` (nil: every topic it committed in).
    func committedOffsets(group: String, topics: [String]?) throws -> [TopicPartition: Int64]
    /// How far behind a group is per partition.
    func lag(group: String, topics: [String]?) throws -> [TopicPartition: GroupLag]
    /// Sets a group's committed offsets.
    func resetOffsets(group: String, to offsets: [TopicPartition: Int64]) throws
    /// The offsets a reset of `group` to `target` in every partition of `topic` would commit.
    func planReset(group: String, topic: String, to target: ResetTarget) throws -> [TopicPartition: ResetStep]
    /// Deletes a group's committed offsets of `partitions`.
    func deleteCommittedOffsets(group: String, partitions: [TopicPartition]) throws -> [TopicPartition: Result<Void, KafkaError>]
    /// Deletes every record before the offset given in each partition; the new low watermarks.
    func deleteRecords(before offsets: [TopicPartition: Int64]) throws -> [TopicPartition: Result<Int64, KafkaError>]

    /// The `async` twin of ``cluster()``.
    func cluster() async throws -> ClusterDescription
    /// The `async` twin of ``listTopics(includeInternal:)``.
    func listTopics(includeInternal: Bool) async throws -> [String]
    /// The `async` twin of ``describeTopics(_:configs:)``.
    func describeTopics(_ names: [String], configs: Bool) async throws -> [String: Result<TopicDescription, KafkaError>]
    /// The `async` twin of ``createTopics(_:)``.
    func createTopics(_ topics: [NewTopic]) async throws -> [String: Result<Void, KafkaError>]
    /// The `async` twin of ``deleteTopics(_:)``.
    func deleteTopics(_ names: [String]) async throws -> [String: Result<Void, KafkaError>]
    /// The `async` twin of ``createPartitions(_:)``.
    func createPartitions(_ totals: [String: Int32]) async throws -> [String: Result<Void, KafkaError>]
    /// The `async` twin of ``describeConfigs(_:)``.
    func describeConfigs(_ resources: [ConfigResource]) async throws -> [ConfigResource: Result<[String: ConfigEntry], KafkaError>]
    /// The `async` twin of ``alterConfigs(_:)``.
    func alterConfigs(_ changes: [ConfigResource: [String: String]]) async throws -> [ConfigResource: Result<Void, KafkaError>]
    /// The `async` twin of ``changeConfigs(_:)``.
    func changeConfigs(_ changes: [ConfigResource: [String: String]]) async throws -> [ConfigResource: Result<Void, KafkaError>]
    /// The `async` twin of ``listGroups()``.
    func listGroups() async throws -> [GroupListing]
    /// The `async` twin of ``describeGroups(_:)``.
    func describeGroups(_ groups: [String]) async throws -> [String: Result<GroupDescription, KafkaError>]
    /// The `async` twin of ``deleteGroups(_:)``.
    func deleteGroups(_ groups: [String]) async throws -> [String: Result<Void, KafkaError>]
    /// The `async` twin of ``committedOffsets(group:topics:)``.
    func committedOffsets(group: String, topics: [String]?) async throws -> [TopicPartition: Int64]
    /// The `async` twin of ``lag(group:topics:)``.
    func lag(group: String, topics: [String]?) async throws -> [TopicPartition: GroupLag]
    /// The `async` twin of ``resetOffsets(group:to:)``.
    func resetOffsets(group: String, to offsets: [TopicPartition: Int64]) async throws
    /// The `async` twin of ``planReset(group:topic:to:)``.
    func planReset(group: String, topic: String, to target: ResetTarget) async throws -> [TopicPartition: ResetStep]
    /// The `async` twin of ``deleteCommittedOffsets(group:partitions:)``.
    func deleteCommittedOffsets(group: String, partitions: [TopicPartition]) async throws -> [TopicPartition: Result<Void, KafkaError>]
    /// The `async` twin of ``deleteRecords(before:)``.
    func deleteRecords(before offsets: [TopicPartition: Int64]) async throws -> [TopicPartition: Result<Int64, KafkaError>]
}

extension KafkaAdmin: AdminClient {}
