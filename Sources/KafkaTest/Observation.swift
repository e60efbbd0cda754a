import Foundation
import Kafka

/// Requests a client sent, per broker and API, read from librdkafka's
/// statistics (`brokers[].req`): the request tracking librdkafka 2.0.2's mock lacks.
public struct RequestCounts: Sendable, Equatable {
    /// Counts by broker node id, then by request name as librdkafka spells it ("Produce", "Fetch", ...).
    public let perBroker: [Int32: [String: Int]]

    /// Parses a statistics JSON document; brokers without a node id (bootstrap entries) are skipped.
    /// - Throws: `KafkaError.invalidArgument(_:)` when the text is not librdkafka statistics.
    public init(statistics json: String) throws {
        guard let root = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
              let brokers = root["brokers"] as? [String: Any] else {
            throw KafkaError.invalidArgument("not a librdkafka statistics document")
        }
        var counts: [Int32: [String: Int]] = [:]
        for case let broker as [String: Any] in brokers.values {
            guard let id = broker["nodeid"] as? Int, id >= 0, let requests = broker["req"] as? [String: Int] else { continue }
            counts[Int32(id), default: [:]].merge(requests, uniquingKeysWith: +)
        }
        perBroker = counts
    }

    /// How many `api` requests went to `broker`, or to every broker when `broker` is `nil`.
    public func count(_ api: KafkaAPI, broker: Int32? = nil) -> Int {
        perBroker.filter { broker == nil || $0.key == broker }.values.reduce(0) { $0 + ($1[api.name] ?? 0) }
    }
}

extension Broker {
    /// Waits up to `timeout` for statistics emitted after this call and returns their request counts.
    /// The broker must have been dialled with the `statistics.interval.ms` property set.
    /// - Throws: `KafkaError.timeout(_:)` saying what it waited for.
    public func requestCounts(timeout: Duration = .seconds(5)) async throws -> RequestCounts {
        let before = latestStatistics()
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let current = latestStatistics(), current != before { return try RequestCounts(statistics: current) }
            try await Task.sleep(for: .milliseconds(20))  // librdkafka has no "statistics ready" signal to wait on
        }
        throw KafkaError.timeout("no new librdkafka statistics within \(timeout); set the statistics.interval.ms property when dialling")
    }
}

/// What a `MockCluster` holds, as its clients see it (Go kafkatest.Server's ServeHTTP dump, typed).
public struct ClusterSnapshot: Sendable, Equatable {
    /// One partition: its watermarks and leader.
    public struct Partition: Sendable, Equatable {
        /// The partition id.
        public var id: Int32
        /// The leader's node id.
        public var leader: Int32
        /// The oldest offset held.
        public var low: Int64
        /// The offset the next message will get.
        public var high: Int64
    }

    /// Partitions by topic.
    public var topics: [String: [Partition]]
    /// Committed offsets by group, then topic, then partition; only for the groups asked about.
    public var committed: [String: [String: [Int32: Int64]]]
}

extension MockCluster {
    /// Reads topics, watermarks and the committed offsets of `groups` through a private client.
    public func snapshot(groups: [String] = []) async throws -> ClusterSnapshot {
        let broker = try await Broker.dial(addresses)
        defer { broker.close() }
        let metadata = try await broker.metadata()
        var topics: [String: [ClusterSnapshot.Partition]] = [:]
        var committed: [String: [String: [Int32: Int64]]] = [:]
        for topic in metadata.topics where topic.error == nil {
            topics[topic.name] = try topic.partitions.map { partition in
                let (low, high) = try broker.watermarks(topic.name, partition: partition.id)
                return ClusterSnapshot.Partition(id: partition.id, leader: partition.leader, low: low, high: high)
            }
        }
        for group in groups {
            let coordinator = try broker.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: group))
            for topic in metadata.topics where topic.error == nil {
                for partition in topic.partitions {
                    let offset = try await coordinator.offset(topic.name, partition: partition.id).offset
                    if offset >= 0 { committed[group, default: [:]][topic.name, default: [:]][partition.id] = offset }
                }
            }
        }
        return ClusterSnapshot(topics: topics, committed: committed)
    }

    /// Appends `messages` to `topic`/`partition` through a private producer, creating the topic
    /// with `partition + 1` partitions when it does not exist (Go kafkatest.Server's AddMessages).
    /// Returns the messages with their offsets.
    @discardableResult
    public func addMessages(_ topic: String, partition: Int32, _ messages: [Message]) async throws -> [Message] {
        let broker = try await Broker.dial(addresses)
        defer { broker.close() }
        if (try? await broker.partitionCount(topic)) == nil {
            try createTopic(topic, partitions: Int(partition) + 1, replicationFactor: 1)
        }
        var stamped = messages
        try await broker.producer().produce(topic, partition: partition, messages: &stamped)
        return stamped
    }
}
