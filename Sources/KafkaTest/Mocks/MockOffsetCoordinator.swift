import Foundation
import Kafka
import Synchronization

/// An in-memory offset coordinator of one group, made by ``MockBroker/offsetCoordinator(_:)``.
///
/// Commits go to a store shared by every coordinator of the same broker;
/// a never-committed offset reads `(-1, "")`, as the real client reports.
/// Handlers replace the store (Go kafkatest's `CommitHandler`/`OffsetHandler`, which also get the group).
public final class MockOffsetCoordinator: OffsetCoordinator {
    /// Replaces the store for commits: (group, topic, partition, offset, metadata).
    public typealias CommitHandler = @Sendable (String, String, Int32, Int64, String) throws -> Void
    /// Replaces the store for reads: (group, topic, partition) -> (offset, metadata).
    public typealias OffsetHandler = @Sendable (String, String, Int32) throws -> (Int64, String)

    let state: MockState
    /// The consumer group.
    public let group: String
    private let handlers = Mutex<(commit: CommitHandler?, offset: OffsetHandler?)>((nil, nil))

    init(state: MockState, group: String) {
        self.state = state
        self.group = group
    }

    /// When set, commits call it instead of storing. Default `nil`.
    public var commitHandler: CommitHandler? {
        get { handlers.withLock { $0.commit } }
        set { handlers.withLock { $0.commit = newValue } }
    }

    /// When set, reads call it instead of the store. Default `nil`.
    public var offsetHandler: OffsetHandler? {
        get { handlers.withLock { $0.offset } }
        set { handlers.withLock { $0.offset = newValue } }
    }

    /// Stores `offset` and `metadata`, or calls ``commitHandler``.
    /// - Throws: `KafkaError.closed`; `KafkaError.invalidArgument(_:)` for a negative offset.
    public func commit(_ topic: String, partition: Int32, offset: Int64, metadata: String) throws {
        guard offset >= 0 else { throw KafkaError.invalidArgument("offset \(offset) is negative") }
        if let handler = commitHandler {
            try state.locked { () throws(KafkaError) in try state.checkOpen() }
            return try handler(group, topic, partition, offset, metadata)
        }
        try state.locked { () throws(KafkaError) in
            try state.checkOpen()
            state.committed[group, default: [:]]["\(topic):\(partition)"] = (offset, metadata)
        }
    }

    /// The `async` twin of ``commit(_:partition:offset:metadata:)``.
    public func commit(_ topic: String, partition: Int32, offset: Int64, metadata: String) async throws {
        try { () throws in try self.commit(topic, partition: partition, offset: offset, metadata: metadata) }()
    }

    /// The stored offset and metadata, `(-1, "")` when never committed, or ``offsetHandler``'s answer.
    public func offset(_ topic: String, partition: Int32) throws -> (offset: Int64, metadata: String) {
        if let handler = offsetHandler {
            try state.locked { () throws(KafkaError) in try state.checkOpen() }
            return try handler(group, topic, partition)
        }
        return try state.locked { () throws(KafkaError) -> (offset: Int64, metadata: String) in
            try state.checkOpen()
            return state.committed[group]?["\(topic):\(partition)"] ?? (-1, "")
        }
    }

    /// The `async` twin of ``offset(_:partition:)``.
    public func offset(_ topic: String, partition: Int32) async throws -> (offset: Int64, metadata: String) {
        try { () throws -> (offset: Int64, metadata: String) in try self.offset(topic, partition: partition) }()
    }
}
