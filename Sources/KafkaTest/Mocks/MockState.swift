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
/// per-partition logs, committed offsets, produced calls not yet read, transactions.
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
    /// Transactions of ``MockTransactionalProducer``s, by number.
    var transactions: [Int: MockTransaction] = [:]
    /// The transaction each transactional message belongs to: partition → offset → transaction number.
    /// Messages not in it are non-transactional, always visible.
    var transactionMarks: [TopicPartition: [Int64: Int]] = [:]
    /// Per transactional id, the epoch of its newest producer and the transaction it has open.
    var transactionalIDs: [String: (epoch: Int, open: Int?)] = [:]
    var nextTransaction = 0
    /// Per partition, the first offset still held (its low watermark), after ``MockAdmin/deleteRecords(before:)``
    /// moved it; absent, 0. Messages below it stay in `logs`, so that offsets remain array indices.
    var logStarts: [TopicPartition: Int64] = [:]
    /// Each topic's own (dynamic) settings, set by ``MockAdmin``; absent, Kafka's defaults only.
    var topicConfigs: [String: [String: String]] = [:]
    /// The dynamic settings of the mock's one broker, set by ``MockAdmin``.
    var brokerConfigs: [String: String] = [:]

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

    /// The low watermark of `topic`/`partition`: 0 unless records were deleted. Call with the lock held.
    func logStart(_ topic: String, _ partition: Int32) -> Int64 {
        logStarts[TopicPartition(topic, partition)] ?? 0
    }

    // MARK: Transactions (lock held)

    /// Opens a transaction for the producer of `transactionalID`; returns its number.
    func openTransaction(_ transactionalID: String) -> Int {
        nextTransaction += 1
        transactions[nextTransaction] = MockTransaction()
        transactionalIDs[transactionalID]?.open = nextTransaction
        return nextTransaction
    }

    /// Marks the messages `stamped` (just appended) as written by transaction `number`.
    func mark(_ stamped: [Message], transaction number: Int) {
        guard let first = stamped.first else { return }
        let partition = TopicPartition(first.topic, first.partition)
        for message in stamped { transactionMarks[partition, default: [:]][message.offset] = number }
        if transactions[number]?.firstOffsets[partition] == nil { transactions[number]?.firstOffsets[partition] = first.offset }
    }

    /// Ends transaction `number`: committed, its sent offsets become the groups' committed
    /// offsets; aborted, they are dropped. Wakes waiting consumers (the stable offset moved).
    func endTransaction(_ number: Int, committed: Bool) {
        guard var transaction = transactions[number], transaction.status == .open else { return }
        transaction.status = committed ? .committed : .aborted
        if committed {
            for (group, offsets) in transaction.offsets {
                for (partition, offset) in offsets {
                    self.committed[group, default: [:]]["\(partition.topic):\(partition.partition)"] = (offset, "")
                }
            }
        }
        transaction.offsets = [:]
        transaction.firstOffsets = [:]
        transactions[number] = transaction
        for (id, entry) in transactionalIDs where entry.open == number { transactionalIDs[id]?.open = nil }
        condition.broadcast()
    }

    /// Where reading `topic`/`partition` must stop for `isolation`: the log end for read-uncommitted;
    /// for read-committed the last stable offset, the first message of a transaction still open (else the log end).
    func visibleEnd(_ topic: String, _ partition: Int32, _ isolation: IsolationLevel) -> Int64 {
        let end = Int64(logs[topic].flatMap { Int(partition) < $0.count && partition >= 0 ? $0[Int(partition)].count : nil } ?? 0)
        guard isolation == .readCommitted else { return end }
        let key = TopicPartition(topic, partition)
        var stable = end
        for transaction in transactions.values where transaction.status == .open {
            if let first = transaction.firstOffsets[key], first < stable { stable = first }
        }
        return stable
    }

    /// Whether the message at `offset` of `topic`/`partition` belongs to an aborted transaction.
    func isAborted(_ topic: String, _ partition: Int32, _ offset: Int64) -> Bool {
        guard let number = transactionMarks[TopicPartition(topic, partition)]?[offset] else { return false }
        return transactions[number]?.status == .aborted
    }

    /// The messages of `topic`/`partition` at offsets `from..<to` that `isolation` lets a consumer
    /// see (read-committed skips those of aborted transactions). Offsets must lie within the log.
    func visible(_ topic: String, _ partition: Int32, from: Int64, to: Int64, _ isolation: IsolationLevel) -> [Message] {
        guard from >= 0, from < to, let partitions = logs[topic], partition >= 0, Int(partition) < partitions.count,
              to <= Int64(partitions[Int(partition)].count) else { return [] }
        let slice = partitions[Int(partition)][Int(from)..<Int(to)]
        guard isolation == .readCommitted else { return Array(slice) }
        return slice.filter { !isAborted(topic, partition, $0.offset) }
    }

    /// Forgets which messages transactions wrote (after the logs were emptied) and what offsets
    /// open transactions carry; open transactions stay open.
    func forgetTransactionContents() {
        transactionMarks = [:]
        for number in transactions.keys {
            transactions[number]?.firstOffsets = [:]
            transactions[number]?.offsets = [:]
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

/// One transaction of a ``MockTransactionalProducer``, as the in-memory cluster keeps it.
struct MockTransaction {
    enum Status { case open, committed, aborted }
    var status = Status.open
    /// The offset of its first message, per partition it wrote to (while open: the stable offset's bound).
    var firstOffsets: [TopicPartition: Int64] = [:]
    /// The offsets sent with it, by group: committed with it, dropped when it aborts.
    var offsets: [String: [TopicPartition: Int64]] = [:]
}
