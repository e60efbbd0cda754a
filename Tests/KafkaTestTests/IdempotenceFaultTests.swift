import Kafka
import KafkaTest
import Testing
import KafkaTestSupport

@Suite("Tier 2: faults with an idempotent producer", .ownThreads)
struct IdempotenceFaultTests {
    @Test("acks all with idempotence: broker down and up, leader moved, retriable errors; every acknowledged message is in the log once, in order")
    func idempotentProducerUnderFaults() async throws {
        try await withMockCluster(brokers: 3, topics: ["t": 1]) { cluster in
            var brokerConf = BrokerConf()
            // A message waits for a leader at most leaderRetryLimit × leaderRetryWait + requestTimeout (1.2 s).
            brokerConf.leaderRetryLimit = 2
            brokerConf.leaderRetryWait = .milliseconds(100)
            let broker = try await Broker.dial(cluster.addresses, conf: brokerConf)
            defer { broker.close() }
            var conf = ProducerConf()
            conf.requestTimeout = .seconds(1)
            conf.properties["enable.idempotence"] = "true"
            conf.retryLimit = 5
            conf.retryWait = .milliseconds(50)
            let producer = try broker.producer(conf)
            var acknowledged: [Message] = []
            var failedCalls = 0
            let metadata = try await broker.metadata()
            let leader = try #require(metadata.topic("t")?.partitions.first?.leader)
            for call in 0..<30 {
                switch call {
                case 5: try cluster.flaky(.produce, times: 3, error: .notEnoughReplicas)
                case 10: try cluster.setDown(broker: leader)
                case 18: try cluster.failover(topic: "t", partition: 0, to: leader % 3 + 1)
                case 24: try cluster.flaky(.produce, times: 2, error: .requestTimeout)
                default: break
                }
                let messages = (0..<10).map { Message(value: "c\(call)-m\($0)") }
                do {
                    let pending = Task {
                        var sent = messages
                        try await producer.produce("t", partition: 0, messages: &sent)
                        return sent
                    }
                    if call == 10 {
                        try await Task.sleep(for: .milliseconds(300))  // the leader stays down while the call is in flight
                        try cluster.setUp(broker: leader)
                    }
                    acknowledged += try await pending.value
                } catch let error as KafkaError where error != .closed {
                    failedCalls += 1  // reported to the caller; such messages may or may not be in the log
                }
            }
            var consumerConf = ConsumerConf(topic: "t", partition: 0)
            consumerConf.retryLimit = 20
            var log: [Int64: String] = [:]
            for try await message in try await broker.consumer(consumerConf) { log[message.offset] = message.text ?? "" }
            #expect(Set(log.values).count == log.count, "a message was written twice")
            // Offsets only grow with the order of the calls and of the messages in a call.
            let known = acknowledged.filter { $0.offset >= 0 }
            #expect(known.map(\.offset) == known.map(\.offset).sorted(), "acknowledged messages out of order")
            for message in known {
                #expect(log[message.offset] == message.text, "acknowledged \(message.text ?? "") is not at offset \(message.offset)")
            }
            // librdkafka reports a message as delivered without an offset (-1 here) when a retry
            // of its idempotent producer finds a later message of the same partition stored: a real
            // broker checks sequence numbers and proves the earlier ones were stored too. librdkafka
            // 2.0.2's mock cluster checks them only for transactional producers, so there such a
            // message may be missing. Only a fault window may produce one.
            #expect(acknowledged.count - known.count <= 10, "more messages without an offset than one call")
            #expect(acknowledged.count + failedCalls * 10 == 300)
        }
    }

    @Test("a consumer resumes after its leader's broker restarts, with no gap and no repeat")
    func consumerSurvivesBrokerRestart() async throws {
        try await withMockCluster(brokers: 3, topics: ["t": 1]) { cluster in
            let broker = try await Broker.dial(cluster.addresses)
            defer { broker.close() }
            let producer = try broker.producer()
            try await producer.produce("t", partition: 0, messages: (0..<100).map { Message(value: "\($0)") })
            var conf = ConsumerConf(topic: "t", partition: 0)
            conf.retryLimit = 100
            conf.retryWait = .milliseconds(20)
            let consumer = try await broker.consumer(conf)
            var offsets: [Int64] = []
            for _ in 0..<40 { offsets.append(try await consumer.consume().offset) }
            let metadata = try await broker.metadata()
            let leader = try #require(metadata.topic("t")?.partitions.first?.leader)
            try cluster.setDown(broker: leader)
            try await Task.sleep(for: .milliseconds(200))  // the broker stays down for a while, whatever the consumer does
            try cluster.setUp(broker: leader)
            try await producer.produce("t", partition: 0, messages: (100..<150).map { Message(value: "\($0)") })
            while offsets.count < 150 { offsets.append(try await consumer.consume().offset) }
            #expect(offsets == Array(0..<150))
        }
    }
}
