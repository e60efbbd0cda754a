import Kafka
import KafkaTest
import Testing
import KafkaTestSupport

@Suite("Borrowing batch read", .ownThreads)
struct BorrowedBatchTests {
    @Test("views of one fetch read every message in order, nil and empty kept apart; owned messages consume() fetched come first")
    func borrowedViews() throws {
        try withMockCluster(brokers: 1, topics: ["views": 1]) { cluster in
            let broker = try Broker.dial(cluster.addresses)
            defer { broker.close() }
            let sent = [Message(key: "k0", value: "v0"), Message(key: nil, value: nil), Message(key: [], value: []), Message(value: "v3")]
                + (4..<50).map { Message(value: "v\($0)") }
            try broker.producer().produce("views", partition: 0, messages: sent)
            var conf = ConsumerConf(topic: "views", partition: 0)
            conf.retryLimit = 3
            let consumer = try broker.consumer(conf)
            #expect(try consumer.consume().offset == 0)  // the rest of that fetch stays buffered as owned messages
            var offsets: [Int64] = []
            var values: [[UInt8]?] = []
            var keys: [[UInt8]?] = []
            while offsets.count < 49 {
                try consumer.withBorrowedBatch { batch in
                    #expect(batch.topic == "views")
                    for message in batch {
                        offsets.append(message.offset)
                        values.append(message.value.map { Array($0) })
                        keys.append(message.key.map { Array($0) })
                    }
                }
            }
            #expect(offsets == Array(1..<50))
            #expect(values[0] == nil && keys[0] == nil)
            #expect(values[1] == [] && keys[1] == [])
            #expect(values[2] == Array("v3".utf8))
            #expect(throws: KafkaError.noData) { try consumer.withBorrowedBatch { _ in () } }
        }
    }

    @Test("a fresh consumer's borrowed batch holds a whole fetch, and owned() copies a view")
    func wholeFetch() throws {
        try withMockCluster(brokers: 1, topics: ["fetch": 1]) { cluster in
            let broker = try Broker.dial(cluster.addresses)
            defer { broker.close() }
            try broker.producer().produce("fetch", partition: 0, messages: (0..<20).map { Message(key: "k", value: "v\($0)") })
            var conf = ConsumerConf(topic: "fetch", partition: 0)
            conf.retryLimit = 3
            let consumer = try broker.consumer(conf)
            var copied: [Message] = []
            while copied.count < 20 {
                copied += try consumer.withBorrowedBatch { batch in batch.map { $0.owned(topic: batch.topic) } }
            }
            #expect(copied.map(\.offset) == Array(0..<20))
            #expect(copied[7].value == Array("v7".utf8) && copied[7].topic == "fetch")
            consumer.close()
            #expect(throws: KafkaError.closed) { try consumer.withBorrowedBatch { _ in () } }
        }
    }

    @Test("a group member's borrowed batches hold one topic each, read every message of two topics once in partition order, and store offsets for commit")
    func groupBorrowedBatches() throws {
        try withMockCluster(brokers: 1, topics: ["left": 2, "right": 1]) { cluster in
            let broker = try Broker.dial(cluster.addresses)
            defer { broker.close() }
            let producer = try broker.producer()
            for (topic, partition) in [("left", Int32(0)), ("left", 1), ("right", 0)] {
                try producer.produce(topic, partition: partition, messages: (0..<30).map { Message(key: "k\($0)", value: "\(topic)-\(partition)-\($0)") })
            }
            let group = try broker.groupConsumer(quickGroup("borrowers", ["left", "right"]) { $0.commitPolicy = .manual })
            var offsets: [TopicPartition: [Int64]] = [:]
            var values = Set<String>()
            // One owned read first: the rest of its fetch is handed over as owned messages, one per batch.
            let first = try group.consume()
            offsets[TopicPartition(first.topic, first.partition), default: []].append(first.offset)
            values.insert(String(decoding: first.value ?? [], as: UTF8.self))
            while values.count < 90 {
                try group.withBorrowedBatch { batch in
                    for message in batch {
                        let value = String(decoding: message.value.map { Array($0) } ?? [], as: UTF8.self)
                        #expect(value.hasPrefix("\(batch.topic)-\(message.partition)-"), "a batch mixes topics: \(value) in \(batch.topic)")
                        #expect(message.key.map { Array($0) } == Array("k\(message.offset)".utf8))
                        offsets[TopicPartition(batch.topic, message.partition), default: []].append(message.offset)
                        values.insert(value)
                    }
                }
            }
            #expect(values.count == 90)
            #expect(offsets.count == 3)
            #expect(offsets.values.allSatisfy { $0 == Array(0..<30) }, "\(offsets)")
            try group.commit()
            let expected: [TopicPartition: Int64] = [TopicPartition("left", 0): 30, TopicPartition("left", 1): 30, TopicPartition("right", 0): 30]
            #expect(try group.committed() == expected)
            group.close()
            #expect(throws: KafkaError.closed) { try group.withBorrowedBatch { _ in () } }
        }
    }

    @Test("after owned reads, a group member's borrowed batches commit the latest offset, never the owned fill's older one")
    func groupBorrowedAfterOwnedCommitsLatest() throws {
        try withMockCluster(brokers: 1, topics: ["mixed": 1]) { cluster in
            let broker = try Broker.dial(cluster.addresses)
            defer { broker.close() }
            let producer = try broker.producer()
            try producer.produce("mixed", partition: 0, messages: (0..<30).map { Message(value: "a\($0)") })
            let group = try broker.groupConsumer(quickGroup("mixers", ["mixed"]) { $0.commitPolicy = .manual })
            var offsets: [Int64] = [try group.consume().offset]
            try producer.produce("mixed", partition: 0, messages: (30..<60).map { Message(value: "a\($0)") })
            while offsets.count < 60 {
                try group.withBorrowedBatch { batch in offsets += batch.map(\.offset) }
            }
            #expect(offsets == Array(0..<60))
            try group.commit()
            #expect(try group.committed() == [TopicPartition("mixed", 0): 60])
            group.close()
        }
    }
}
