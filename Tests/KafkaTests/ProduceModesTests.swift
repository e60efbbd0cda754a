@testable import Kafka
import KafkaTest
import KafkaTestSupport
import Testing

@Suite("Produce modes", .ownThreads)
struct ProduceModesTests {
    @Test("every acks mode and codec round-trips", arguments: [RequiredAcks.none, .local, .all], Compression.allCases)
    func acksAndCodecs(acks: RequiredAcks, compression: Compression) async throws {
        let cluster = try TestCluster()
        let topic = try cluster.topic()
        let broker = try cluster.dial()
        defer { broker.close() }
        var conf = ProducerConf()
        conf.requiredAcks = acks
        conf.compression = compression
        let producer = try broker.producer(conf)
        let payload = Array(repeating: UInt8(ascii: "x"), count: 2000)
        var messages = (0..<20).map { Message(key: Array("k\($0)".utf8), value: payload + Array("\($0)".utf8)) }
        let syncOffset = try { () throws -> Int64 in try producer.produce(topic, partition: 0, messages: &messages) }()
        var more = (20..<40).map { Message(key: Array("k\($0)".utf8), value: payload + Array("\($0)".utf8)) }
        let asyncOffset = try await producer.produce(topic, partition: 0, messages: &more)
        if acks == .none {
            #expect(syncOffset == -1 && asyncOffset == -1)
            #expect(messages.allSatisfy { $0.offset == -1 })
        } else {
            #expect(syncOffset == 0 && asyncOffset == 20)
            #expect(more.map(\.offset) == Array(20..<40))
        }
        var consumerConf = ConsumerConf(topic: topic, partition: 0)
        consumerConf.retryLimit = 20
        consumerConf.retryWait = .milliseconds(20)
        let consumer = try await broker.consumer(consumerConf)
        for index in 0..<40 {
            let message = try await consumer.consume()
            #expect(message.offset == Int64(index))
            #expect(message.value == payload + Array("\(index)".utf8))
        }
    }
}

@Suite("Distributing producers", .ownThreads)
struct DistributingProducerTests {
    @Test("hash producer writes each key to the partition Go picks")
    func hashMatchesGo() throws {
        let cluster = try TestCluster()
        let topic = try cluster.topic(partitions: 7)
        let broker = try cluster.dial()
        defer { broker.close() }
        let hashed = HashProducer(try broker.producer(), partitions: 7)
        let expected: [(String, Int32)] = [("a", 6), ("foo", 2), ("bar", 2), ("hello", 2), ("kafka", 4), ("key-0", 6), ("key-1", 1), ("1234", 6)]
        for (key, partition) in expected {
            var messages = [Message(key: key, value: "v")]
            _ = try hashed.distribute(topic, messages: &messages)
            #expect(messages[0].partition == partition, "key \(key)")
        }
        for partition: Int32 in 0..<7 {
            let count = try broker.offsetLatest(topic, partition: partition)
            #expect(count == Int64(expected.filter { $0.1 == partition }.count))
        }
    }

    @Test("hash producer refuses nil keys and mixed destinations, writing nothing")
    func hashRefuses() throws {
        let cluster = try TestCluster()
        let topic = try cluster.topic(partitions: 3)
        let broker = try cluster.dial()
        defer { broker.close() }
        let hashed = HashProducer(try broker.producer(), partitions: 3)
        #expect(throws: KafkaError.self) { try hashed.distribute(topic, messages: [Message(key: nil, value: "v")]) }
        #expect(throws: KafkaError.self) { try hashed.distribute(topic, messages: [Message(key: "foo", value: "1"), Message(key: "bar", value: "2")]) }
        #expect(throws: KafkaError.self) { try hashed.distribute(topic, messages: [Message(key: "foo", value: "1"), Message(key: nil, value: "2")]) }
        #expect(throws: KafkaError.self) { try hashed.distribute(topic, messages: []) }
        #expect(throws: KafkaError.self) { try HashProducer(broker.producer(), partitions: 0).distribute(topic, messages: [Message(key: "a", value: "v")]) }
        for partition: Int32 in 0..<3 { #expect(try broker.offsetLatest(topic, partition: partition) == 0) }
    }

    @Test("round robin cycles the partitions and random stays within them")
    func roundRobinAndRandom() async throws {
        let cluster = try TestCluster()
        let topic = try cluster.topic(partitions: 3)
        let broker = try cluster.dial()
        defer { broker.close() }
        let roundRobin = RoundRobinProducer(try broker.producer(), partitions: 3)
        var partitions: [Int32] = []
        for _ in 0..<6 {
            var messages = [Message(value: "v")]
            _ = try await roundRobin.distribute(topic, messages: &messages)
            partitions.append(messages[0].partition)
        }
        #expect(partitions == [0, 1, 2, 0, 1, 2])
        let random = RandomProducer(try broker.producer(), partitions: 3)
        for _ in 0..<20 {
            var messages = [Message(value: "r")]
            _ = try { () throws -> Int64 in try random.distribute(topic, messages: &messages) }()
            #expect((0..<3).contains(messages[0].partition))
        }
        let total = try (0..<3).reduce(Int64(0)) { $0 + (try broker.offsetLatest(topic, partition: Int32($1))) }
        #expect(total == 26)
    }
}

@Suite("Concurrency and close", .ownThreads)
struct ConcurrencyTests {
    @Test("many tasks and threads produce concurrently: nothing lost, nothing duplicated")
    func concurrentProducers() async throws {
        let cluster = try TestCluster()
        let topic = try cluster.topic(partitions: 2)
        let broker = try cluster.dial()
        defer { broker.close() }
        let producer = try broker.producer()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    for call in 0..<25 {
                        let messages = (0..<4).map { Message(key: "w\(worker)", value: "\(worker)-\(call)-\($0)") }
                        if worker % 2 == 0 {
                            try await producer.produce(topic, partition: Int32(worker % 2), messages: messages)
                        } else {
                            _ = try await onThread { try producer.produce(topic, partition: Int32(worker % 2), messages: messages) }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        var seen = Set<String>()
        for partition: Int32 in 0..<2 {
            var conf = ConsumerConf(topic: topic, partition: partition)
            conf.retryLimit = 2
            for try await message in try await broker.consumer(conf) {
                let inserted = seen.insert(message.text ?? "").inserted
                #expect(inserted, "duplicate \(message.text ?? "")")
            }
        }
        #expect(seen.count == 8 * 25 * 4)
    }

    @Test("closing the broker while produce calls are in flight: each returns or throws closed, none hangs")
    func closeRace() async throws {
        let cluster = try TestCluster()
        let topic = try cluster.topic()
        let broker = try cluster.dial()
        let producer = try broker.producer()
        let outcomes = await withTaskGroup(of: String.self) { group in
            for worker in 0..<6 {
                group.addTask {
                    do {
                        for _ in 0..<1000 {
                            if worker % 2 == 0 {
                                try await producer.produce(topic, partition: 0, messages: values(0..<10))
                            } else {
                                _ = try await onThread { try producer.produce(topic, partition: 0, messages: values(0..<10)) }
                            }
                        }
                        return "finished"
                    } catch KafkaError.closed {
                        return "closed"
                    } catch {
                        return "unexpected \(error)"
                    }
                }
            }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(100))
                broker.close()
                return "closer"
            }
            var outcomes: [String] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes
        }
        #expect(outcomes.allSatisfy { $0 == "closed" || $0 == "finished" || $0 == "closer" }, "\(outcomes)")
        #expect(broker.openHandleCount == 0)
        #expect(throws: KafkaError.closed) { try producer.produce(topic, partition: 0, messages: values(0..<1)) }
        #expect(throws: KafkaError.closed) { try broker.offsetLatest(topic, partition: 0) }
        #expect(throws: KafkaError.closed) { try broker.producer() }
        #expect(throws: KafkaError.closed) { try broker.consumer(ConsumerConf(topic: topic, partition: 0)) }
        #expect(throws: KafkaError.closed) { try broker.metadata() }
    }
}
