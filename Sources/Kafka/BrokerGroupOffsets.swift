import Foundation

/// Where a consumer group stands in one partition: its committed offset against the partition's end.
public struct GroupLag: Sendable, Hashable {
    /// The group's committed offset (the next offset it reads).
    public let committed: Int64
    /// The partition's high watermark (the offset of the next message written).
    public let end: Int64

    /// A group's position `committed` in a partition ending at `end`.
    public init(committed: Int64, end: Int64) {
        self.committed = committed
        self.end = end
    }

    /// How many messages the group has not committed yet: `end - committed`, at least 0.
    public var lag: Int64 { Swift.max(0, end - committed) }
}

/// Operations on consumer groups and on offsets by time, for any group: what an operator asks
/// ("how far behind is group G?", "reset G to 10:00 yesterday") without being a member.
extension Broker {
    /// The committed offsets of `group` in every partition of `topics` (nil, the default: in every
    /// partition the group committed an offset for); partitions without one are left out. Waits up
    /// to ``BrokerConf/readTimeout``. (librdkafka 2.0.2's embedded cluster answers only a request
    /// that names the topics.)
    /// - Throws: `unknownTopicOrPartition` for a named topic that does not exist; the coordinator's
    ///   error (e.g. `groupAuthorizationFailed`); `KafkaError.timeout(_:)`; `KafkaError.closed`.
    public func committedOffsets(group: String, topics: [String]? = nil) throws -> [TopicPartition: Int64] {
        try validateGroup(group)
        let partitions = try topics.map { topics in
            try topics.flatMap { topic in (0..<(try partitionCount(topic))).map { TopicPartition(topic, $0) } }
        }
        return try primary.groupOffsets(group, partitions: partitions, timeout: conf.readTimeout)
    }

    /// The `async` twin of ``committedOffsets(group:topics:)``, run on the library's call pool; cancellable.
    public func committedOffsets(group: String, topics: [String]? = nil) async throws -> [TopicPartition: Int64] {
        try await runBlocking { try self.committedOffsets(group: group, topics: topics) }
    }

    /// Sets `group`'s committed offsets of the partitions in `offsets` (the next offset to read),
    /// as Kafka's `kafka-consumer-groups --reset-offsets --execute` does. The group must have no
    /// active members: Kafka's coordinator refuses a reset while any member is in the group.
    /// - Throws: `KafkaError.invalidArgument(_:)` for a negative offset or an empty group id;
    ///   the coordinator's error (e.g. `unknownMemberId` while members are active); `KafkaError.closed`.
    public func resetOffsets(group: String, to offsets: [TopicPartition: Int64]) throws {
        try validateGroup(group)
        for (partition, offset) in offsets where offset < 0 {
            throw KafkaError.invalidArgument("offset \(offset) for \(partition) is negative; give the next offset the group reads")
        }
        guard !offsets.isEmpty else { return }
        try primary.alterGroupOffsets(group, offsets, timeout: conf.readTimeout)
    }

    /// The `async` twin of ``resetOffsets(group:to:)``, run on the library's call pool; cancellable
    /// (the reset itself then still completes).
    public func resetOffsets(group: String, to offsets: [TopicPartition: Int64]) async throws {
        try await runBlocking { try self.resetOffsets(group: group, to: offsets) }
    }

    /// How far behind `group` is in every partition (of `topics`, or of every topic when nil) it
    /// committed an offset for: the committed offset against the partition's high watermark, asked
    /// of the coordinator and the leaders now (franz-go's `kadm.Lag`). The group need not be
    /// served by this process.
    /// - Throws: as ``committedOffsets(group:topics:)-hzry`` and ``watermarks(_:partition:)-21cwm``.
    public func lag(group: String, topics: [String]? = nil) throws -> [TopicPartition: GroupLag] {
        var result: [TopicPartition: GroupLag] = [:]
        for (partition, committed) in try committedOffsets(group: group, topics: topics) {
            let end = try watermarks(partition.topic, partition: partition.partition).high
            result[partition] = GroupLag(committed: committed, end: end)
        }
        return result
    }

    /// The `async` twin of ``lag(group:topics:)``, run on the library's call pool; cancellable.
    public func lag(group: String, topics: [String]? = nil) async throws -> [TopicPartition: GroupLag] {
        try await runBlocking { try self.lag(group: group, topics: topics) }
    }

    /// For each partition of `topic`, the offset of its first message written at or after `time`
    /// (by the message timestamp), or -1 where none is that recent. Waits up to ``BrokerConf/readTimeout``.
    /// - Throws: `unknownTopicOrPartition` for a topic that does not exist; the leaders' errors;
    ///   `KafkaError.closed`.
    public func offsets(at time: Date, topic: String) throws -> [TopicPartition: Int64] {
        let count = try partitionCount(topic)
        let millis = Self.milliseconds(time)
        let query = Dictionary(uniqueKeysWithValues: (0..<count).map { (TopicPartition(topic, $0), millis) })
        return try primary.offsetsForTimes(query, timeout: conf.readTimeout)
    }

    /// The offset of the first message of `topic`/`partition` written at or after `time`, or the
    /// partition's end (high watermark) when none is that recent.
    func offset(at time: Date, topic: String, partition: Int32) throws -> Int64 {
        let found = try primary.offsetsForTimes([TopicPartition(topic, partition): Self.milliseconds(time)], timeout: conf.readTimeout)
        if let offset = found[TopicPartition(topic, partition)], offset >= 0 { return offset }
        return try offsetLatest(topic, partition: partition)
    }

    static func milliseconds(_ time: Date) -> Int64 {
        Int64((time.timeIntervalSince1970 * 1000).rounded(.down).clamped(to: 0...9.2e18))
    }

    /// The `async` twin of ``offsets(at:topic:)``, run on the library's call pool; cancellable.
    public func offsets(at time: Date, topic: String) async throws -> [TopicPartition: Int64] {
        try await runBlocking { try self.offsets(at: time, topic: topic) }
    }

    private func validateGroup(_ group: String) throws(KafkaError) {
        try checkOpen()
        guard !group.isEmpty else { throw .invalidArgument("the group id is empty; name the consumer group") }
    }
}

extension Double {
    fileprivate func clamped(to range: ClosedRange<Double>) -> Double {
        Swift.min(Swift.max(self, range.lowerBound), range.upperBound)
    }
}
