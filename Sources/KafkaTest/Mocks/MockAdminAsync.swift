import Foundation
import Kafka

/// The `async` twins of ``MockAdmin``'s calls: each throws `CancellationError` when its task is
/// cancelled, else answers in place (the mock never waits). Same results and errors as the
/// blocking twin.
///
/// They are written out, not left to ``AdminClient``'s default twins: a synchronous method can
/// witness an `async` requirement and wins over a protocol extension's default, so through
/// `any AdminClient` or a generic the blocking twins would answer, never checking for cancellation.
extension MockAdmin {
    /// The `async` twin of ``cluster()``.
    public func cluster() async throws -> ClusterDescription {
        try await inPlace { try cluster() }
    }

    /// The `async` twin of ``listTopics(includeInternal:)``.
    public func listTopics(includeInternal: Bool = false) async throws -> [String] {
        try await inPlace { try listTopics(includeInternal: includeInternal) }
    }

    /// The `async` twin of ``describeTopics(_:configs:)``.
    public func describeTopics(_ names: [String], configs: Bool = false) async throws -> [String: Result<TopicDescription, KafkaError>] {
        try await inPlace { try describeTopics(names, configs: configs) }
    }

    /// The `async` twin of ``createTopics(_:)``.
    public func createTopics(_ topics: [NewTopic]) async throws -> [String: Result<Void, KafkaError>] {
        try await inPlace { try createTopics(topics) }
    }

    /// The `async` twin of ``deleteTopics(_:)``.
    public func deleteTopics(_ names: [String]) async throws -> [String: Result<Void, KafkaError>] {
        try await inPlace { try deleteTopics(names) }
    }

    /// The `async` twin of ``createPartitions(_:)``.
    public func createPartitions(_ totals: [String: Int32]) async throws -> [String: Result<Void, KafkaError>] {
        try await inPlace { try createPartitions(totals) }
    }

    /// The `async` twin of ``describeConfigs(_:)``.
    public func describeConfigs(_ resources: [ConfigResource]) async throws -> [ConfigResource: Result<[String: ConfigEntry], KafkaError>] {
        try await inPlace { try describeConfigs(resources) }
    }

    /// The `async` twin of ``alterConfigs(_:)``.
    public func alterConfigs(_ changes: [ConfigResource: [String: String]]) async throws -> [ConfigResource: Result<Void, KafkaError>] {
        try await inPlace { try alterConfigs(changes) }
    }

    /// The `async` twin of ``changeConfigs(_:)``.
    public func changeConfigs(_ changes: [ConfigResource: [String: String]]) async throws -> [ConfigResource: Result<Void, KafkaError>] {
        try await inPlace { try changeConfigs(changes) }
    }

    /// The `async` twin of ``listGroups()``.
    public func listGroups() async throws -> [GroupListing] {
        try await inPlace { try listGroups() }
    }

    /// The `async` twin of ``describeGroups(_:)``.
    public func describeGroups(_ groups: [String]) async throws -> [String: Result<GroupDescription, KafkaError>] {
        try await inPlace { try describeGroups(groups) }
    }

    /// The `async` twin of ``deleteGroups(_:)``.
    public func deleteGroups(_ groups: [String]) async throws -> [String: Result<Void, KafkaError>] {
        try await inPlace { try deleteGroups(groups) }
    }

    /// The `async` twin of ``committedOffsets(group:topics:)``.
    public func committedOffsets(group: String, topics: [String]? = nil) async throws -> [TopicPartition: Int64] {
        try await inPlace { try committedOffsets(group: group, topics: topics) }
    }

    /// The `async` twin of ``lag(group:topics:)``.
    public func lag(group: String, topics: [String]? = nil) async throws -> [TopicPartition: GroupLag] {
        try await inPlace { try lag(group: group, topics: topics) }
    }

    /// The `async` twin of ``resetOffsets(group:to:)``.
    public func resetOffsets(group: String, to offsets: [TopicPartition: Int64]) async throws {
        try await inPlace { try resetOffsets(group: group, to: offsets) }
    }

    /// The `async` twin of ``planReset(group:topic:to:)``.
    public func planReset(group: String, topic: String, to target: ResetTarget) async throws -> [TopicPartition: ResetStep] {
        try await inPlace { try planReset(group: group, topic: topic, to: target) }
    }

    /// The `async` twin of ``deleteCommittedOffsets(group:partitions:)``.
    public func deleteCommittedOffsets(group: String, partitions: [TopicPartition]) async throws -> [TopicPartition: Result<Void, KafkaError>] {
        try await inPlace { try deleteCommittedOffsets(group: group, partitions: partitions) }
    }

    /// The `async` twin of ``deleteRecords(before:)``.
    public func deleteRecords(before offsets: [TopicPartition: Int64]) async throws -> [TopicPartition: Result<Int64, KafkaError>] {
        try await inPlace { try deleteRecords(before: offsets) }
    }

    /// Throws `CancellationError` when the task is cancelled, else returns `body()` (a blocking twin; the closure makes the call resolve to it).
    private func inPlace<R>(_ body: () throws -> R) async throws -> R {
        try Task.checkCancellation()
        return try body()
    }
}
