/// What ``KafkaAdmin`` offers, as a protocol, so that code that administers a cluster runs
/// unchanged on `KafkaTest`'s in-memory `MockAdmin`. Each call's meaning, defaults and errors are
/// ``KafkaAdmin``'s; calls about many items return one outcome per item.
///
/// The `async` requirements have default implementations that call the blocking ones in place,
/// right for in-memory conformers that never wait; ``KafkaAdmin`` runs its own on the call pool.
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

/// In-place `async` twins for conformers whose calls never wait.
extension AdminClient {
    /// Checks for cancellation, then calls the blocking twin in place.
    public func cluster() async throws -> ClusterDescription { try await Task.checkCancellationThen { try cluster() } }
    /// Checks for cancellation, then calls the blocking twin in place.
    public func listTopics(includeInternal: Bool) async throws -> [String] { try await Task.checkCancellationThen { try listTopics(includeInternal: includeInternal) } }
    /// Checks for cancellation, then calls the blocking twin in place.
    public func describeTopics(_ names: [String], configs: Bool) async throws -> [String: Result<TopicDescription, KafkaError>] {
        try await Task.checkCancellationThen { try describeTopics(names, configs: configs) }
    }
    /// Checks for cancellation, then calls the blocking twin in place.
    public func createTopics(_ topics: [NewTopic]) async throws -> [String: Result<Void, KafkaError>] { try await Task.checkCancellationThen { try createTopics(topics) } }
    /// Checks for cancellation, then calls the blocking twin in place.
    public func deleteTopics(_ names: [String]) async throws -> [String: Result<Void, KafkaError>] { try await Task.checkCancellationThen { try deleteTopics(names) } }
    /// Checks for cancellation, then calls the blocking twin in place.
    public func createPartitions(_ totals: [String: Int32]) async throws -> [String: Result<Void, KafkaError>] {
        try await Task.checkCancellationThen { try createPartitions(totals) }
    }
    /// Checks for cancellation, then calls the blocking twin in place.
    public func describeConfigs(_ resources: [ConfigResource]) async throws -> [ConfigResource: Result<[String: ConfigEntry], KafkaError>] {
        try await Task.checkCancellationThen { try describeConfigs(resources) }
    }
    /// Checks for cancellation, then calls the blocking twin in place.
    public func alterConfigs(_ changes: [ConfigResource: [String: String]]) async throws -> [ConfigResource: Result<Void, KafkaError>] {
        try await Task.checkCancellationThen { try alterConfigs(changes) }
    }
    /// Checks for cancellation, then calls the blocking twin in place.
    public func changeConfigs(_ changes: [ConfigResource: [String: String]]) async throws -> [ConfigResource: Result<Void, KafkaError>] {
        try await Task.checkCancellationThen { try changeConfigs(changes) }
    }
    /// Checks for cancellation, then calls the blocking twin in place.
    public func listGroups() async throws -> [GroupListing] { try await Task.checkCancellationThen { try listGroups() } }
    /// Checks for cancellation, then calls the blocking twin in place.
    public func describeGroups(_ groups: [String]) async throws -> [String: Result<GroupDescription, KafkaError>] {
        try await Task.checkCancellationThen { try describeGroups(groups) }
    }
    /// Checks for cancellation, then calls the blocking twin in place.
    public func deleteGroups(_ groups: [String]) async throws -> [String: Result<Void, KafkaError>] { try await Task.checkCancellationThen { try deleteGroups(groups) } }
    /// Checks for cancellation, then calls the blocking twin in place.
    public func committedOffsets(group: String, topics: [String]?) async throws -> [TopicPartition: Int64] {
        try await Task.checkCancellationThen { try committedOffsets(group: group, topics: topics) }
    }
    /// Checks for cancellation, then calls the blocking twin in place.
    public func lag(group: String, topics: [String]?) async throws -> [TopicPartition: GroupLag] {
        try await Task.checkCancellationThen { try lag(group: group, topics: topics) }
    }
    /// Checks for cancellation, then calls the blocking twin in place.
    public func resetOffsets(group: String, to offsets: [TopicPartition: Int64]) async throws {
        try await Task.checkCancellationThen { try resetOffsets(group: group, to: offsets) }
    }
    /// Checks for cancellation, then calls the blocking twin in place.
    public func planReset(group: String, topic: String, to target: ResetTarget) async throws -> [TopicPartition: ResetStep] {
        try await Task.checkCancellationThen { try planReset(group: group, topic: topic, to: target) }
    }
    /// Checks for cancellation, then calls the blocking twin in place.
    public func deleteCommittedOffsets(group: String, partitions: [TopicPartition]) async throws -> [TopicPartition: Result<Void, KafkaError>] {
        try await Task.checkCancellationThen { try deleteCommittedOffsets(group: group, partitions: partitions) }
    }
    /// Checks for cancellation, then calls the blocking twin in place.
    public func deleteRecords(before offsets: [TopicPartition: Int64]) async throws -> [TopicPartition: Result<Int64, KafkaError>] {
        try await Task.checkCancellationThen { try deleteRecords(before: offsets) }
    }
}

extension Task where Success == Never, Failure == Never {
    /// Throws `CancellationError` when the current task is cancelled, else returns `body()`.
    fileprivate static func checkCancellationThen<R>(_ body: () throws -> R) async throws -> R {
        try checkCancellation()
        return try body()
    }
}

extension KafkaAdmin: AdminClient {}
