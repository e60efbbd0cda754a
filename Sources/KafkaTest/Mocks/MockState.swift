import Foundation
import Kafka

/// One produce call as the mocks saw it: Go kafkatest's `ProducedMessages`.
public struct ProducedMessages: Sendable, Equatable {
    /// The topic written to.
    public var topic: String
    /// The partition written to.
    public var partition: Int32
    /// The messages, stamped with their offsets and CRCs.
    public var messages: [Message]
}

/// The in-memory cluster behind a ``MockBroker`` and everything made from it:
/// per-partition logs, committed offsets, produced calls not yet read.
/// One lock (`condition`) guards it all; waiting consumers sleep on it.
final class MockState: @unchecked Sendable {
    // Safe: every field is read and written with `condition` locked.
    let condition = NSCondition()
    var closed = false
    var logs: [String: [[Message]]] = [:]
    var committed: [String: [String: (Int64, String)]] = [:]
    var produced: [ProducedMessages] = []
    /// Consumer groups of ``MockGroupConsumer``s.
    let groups = MockGroups()
    var autoCreateTopics: Bool
    var defaultPartitions: Int32

    init(autoCreateTopics: Bool, defaultPartitions: Int32) {
        self.autoCreateTopics = autoCreateTopics
        self.defaultPartitions = defaultPartitions
    }

    func locked<R, Failure: Error>(_ body: () throws(Failure) -> R) throws(Failure) -> R {
        condition.lock()
        defer { condition.unlock() }
        return try body()
    }

    /// Throws ``KafkaError/closed`` after close. Call with the lock held.
    func checkOpen() throws(KafkaError) {
        if closed { throw .closed }
    }

    /// The log of `topic`/`partition`, creating the topic when auto-creation
    /// is on. Call with the lock held.
    func requirePartition(_ topic: String, _ partition: Int32) throws(KafkaError) {
        if logs[topic] == nil, autoCreateTopics, !topic.isEmpty {
            logs[topic] = Array(repeating: [], count: Int(max(defaultPartitions, partition + 1)))
        }
        guard let partitions = logs[topic] else {
            throw .broker(.unknownTopicOrPartition, message: "topic \(topic) not found in metadata")
        }
        guard partition >= 0, Int(partition) < partitions.count else {
            throw .broker(.unknownTopicOrPartition, message: "topic \(topic) has \(partitions.count) partition(s); partition \(partition) does not exist")
        }
    }

    /// Appends messages, stamping position and CRC; returns the stamped copies. Call with the lock held.
    func append(_ topic: String, _ partition: Int32, _ messages: [Message]) -> [Message] {
        var log = logs[topic]![Int(partition)]
        var stamped = messages
        for index in stamped.indices {
            stamped[index].topic = topic
            stamped[index].partition = partition
            stamped[index].offset = Int64(log.count)
            stamped[index].crc = stamped[index].computeCRC()
            log.append(stamped[index])
        }
        let tip = Int64(log.count)
        for index in log.indices where log[index].tipOffset != tip { log[index].tipOffset = tip }
        logs[topic]![Int(partition)] = log
        condition.broadcast()
        return stamped
    }
}
