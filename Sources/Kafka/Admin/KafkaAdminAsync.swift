import Foundation

/// The `async` twins of ``KafkaAdmin``'s calls: each runs its blocking twin on the library's call
/// pool and is cancellable (a cancelled call throws `CancellationError` at once; the request it
/// sent still completes on the cluster). Same results and errors as the blocking twin.
extension KafkaAdmin {
    /// The `async` twin of ``cluster()``.
    public func cluster() async throws -> ClusterDescription {
        try await runBlocking { try self.cluster() }
    }

    /// The `async` twin of ``listTopics(includeInternal:)``.
    public func listTopics(includeInternal: Bool = false) async throws -> [String] {
        try await runBlocking { try self.listTopics(includeInternal: includeInternal) }
    }

    /// The `async` twin of ``describeTopics(_:configs:)``.
    public func describeTopics(_ names: [String], configs: Bool = false) async throws -> [String: Result<TopicDescription, KafkaError>] {
        try await runBlocking { try self.describeTopics(names, configs: configs) }
    }

    /// The `async` twin of ``createTopics(_:)``.
    public func createTopics(_ topics: [NewTopic]) async throws -> [String: Result<Void, KafkaError>] {
        try await runBlocking { try self.createTopics(topics) }
    }

    /// The `async` twin of ``deleteTopics(_:)``.
    public func deleteTopics(_ names: [String]) async throws -> [String: Result<Void, KafkaError>] {
        try await runBlocking { try self.deleteTopics(names) }
    }

    /// The `async` twin of ``createPartitions(_:)``.
    public func createPartitions(_ totals: [String: Int32]) async throws -> [String: Result<Void, KafkaError>] {
        try await runBlocking { try self.createPartitions(totals) }
    }

    /// The `async` twin of ``describeConfigs(_:)``.
    public func describeConfigs(_ resources: [ConfigResource]) async throws -> [ConfigResource: Result<[String: ConfigEntry], KafkaError>] {
        try await runBlocking { try self.describeConfigs(resources) }
    }

    /// The `async` twin of ``alterConfigs(_:)``.
    public func alterConfigs(_ changes: [ConfigResource: [String: String]]) async throws -> [ConfigResource: Result<Void, KafkaError>] {
        try await runBlocking { try self.alterConfigs(changes) }
    }

    /// The `async` twin of ``changeConfigs(_:)``.
    public func changeConfigs(_ changes: [ConfigResource: [String: String]]) async throws -> [ConfigResource: Result<Void, KafkaError>] {
        try await runBlocking { try self.changeConfigs(changes) }
    }

    /// The `async` twin of ``listGroups()``.
    public func listGroups() async throws -> [GroupListing] {
        try await runBlocking { try self.listGroups() }
    }

    /// The `async` twin of ``describeGroups(_:)``.
    public func describeGroups(_ groups: [String]) async throws -> [String: Result<GroupDescription, KafkaError>] {
        try await runBlocking { try self.describeGroups(groups) }
    }

    /// The `async` twin of ``deleteGroups(_:)``.
    public func deleteGroups(_ groups: [String]) async throws -> [String: Result<Void, KafkaError>] {
        try await runBlocking { try self.deleteGroups(groups) }
    }

    /// The `async` twin of ``committedOffsets(group:topics:)``.
    public func committedOffsets(group: String, topics: [String]? = nil) async throws -> [TopicPartition: Int64] {
        try await runBlocking { try self.committedOffsets(group: group, topics: topics) }
    }

    /// The `async` twin of ``lag(group:topics:)``.
    public func lag(group: String, topics: [String]? = nil) async throws -> [TopicPartition: GroupLag] {
        try await runBlocking { try self.lag(group: group, topics: topics) }
    }

    /// The `async` twin of ``resetOffsets(group:to:)``.
    public func resetOffsets(group: String, to offsets: [TopicPartition: Int64]) async throws {
        try await runBlocking { try self.resetOffsets(group: group, to: offsets) }
    }

    /// The `async` twin of ``planReset(group:topic:to:)``.
    public func planReset(group: String, topic: String, to target: ResetTarget) async throws -> [TopicPartition: ResetStep] {
        try await runBlocking { try self.planReset(group: group, topic: topic, to: target) }
    }

    /// The `async` twin of ``deleteCommittedOffsets(group:partitions:)``.
    public func deleteCommittedOffsets(group: String, partitions: [TopicPartition]) async throws -> [TopicPartition: Result<Void, KafkaError>] {
        try await runBlocking { try self.deleteCommittedOffsets(group: group, partitions: partitions) }
    }

    /// The `async` twin of ``deleteRecords(before:)``.
    public func deleteRecords(before offsets: [TopicPartition: Int64]) async throws -> [TopicPartition: Result<Int64, KafkaError>] {
        try await runBlocking { try self.deleteRecords(before: offsets) }
    }
}
