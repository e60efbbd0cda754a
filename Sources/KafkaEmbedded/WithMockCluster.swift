import Kafka

/// Runs `body` with a fresh ``MockCluster`` of `brokers` brokers holding
/// `topics` (name: partition count, replicated on up to 3 brokers), and closes
/// the cluster when `body` returns or throws. Each call gets its own cluster on
/// its own ports, so parallel tests do not interfere.
/// - Throws: what ``MockCluster/init(brokers:)`` and ``MockCluster/createTopic(_:partitions:replicationFactor:)``
///   throw, and whatever `body` throws.
public func withMockCluster<Result>(
    brokers: Int = 3, topics: [String: Int] = [:], _ body: (MockCluster) async throws -> Result
) async throws -> Result {
    let cluster = try MockCluster(brokers: brokers, topics: topics)
    defer { cluster.close() }
    return try await body(cluster)
}

/// The synchronous form of ``withMockCluster(brokers:topics:_:)-3ckzr``, for
/// command-line tools, XCTest cases and other code that is not `async`.
public func withMockCluster<Result>(
    brokers: Int = 3, topics: [String: Int] = [:], _ body: (MockCluster) throws -> Result
) throws -> Result {
    let cluster = try MockCluster(brokers: brokers, topics: topics)
    defer { cluster.close() }
    return try body(cluster)
}

extension MockCluster {
    /// Starts a cluster of `brokers` brokers and creates `topics` (name: partition
    /// count), each replicated on up to 3 brokers, in name order.
    /// - Throws: as ``init(brokers:)`` and ``createTopic(_:partitions:replicationFactor:)``; a
    ///   cluster whose topics could not be created is closed before the error is thrown.
    public convenience init(brokers: Int = 3, topics: [String: Int]) throws {
        try self.init(brokers: brokers)
        do {
            for (topic, partitions) in topics.sorted(by: { $0.key < $1.key }) {
                try createTopic(topic, partitions: partitions, replicationFactor: min(brokers, 3))
            }
        } catch {
            close()
            throw error
        }
    }
}
