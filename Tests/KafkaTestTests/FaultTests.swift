import Foundation
import Kafka
import KafkaTest
import Testing
import KafkaTestSupport

func batch(_ range: Range<Int>) -> [Message] {
    range.map { Message(key: "k\($0)", value: "v\($0)") }
}

/// Dials `cluster` with a ``VirtualClock`` (returned too) and `configure` applied.
func dialWithVirtualClock(_ cluster: MockCluster, _ configure: (inout BrokerConf) -> Void = { _ in }) throws -> (Broker, VirtualClock) {
    let clock = VirtualClock()
    var conf = BrokerConf()
    conf.clock = clock
    configure(&conf)
    return (try Broker.dial(cluster.addresses, conf: conf), clock)
}

/// Fault injection through the real client on the embedded cluster (these need `MockCluster`).
@Suite("Tier 2: faults through the real client", .ownThreads)
struct FaultTests {
    @Test("produce succeeds through injected retriable errors within retryLimit, one retryWait each")
    func produceThroughRetriableErrors() async throws {
        try await withMockCluster(brokers: 3, topics: ["t": 1]) { cluster in
            let (broker, clock) = try dialWithVirtualClock(cluster)
            defer { broker.close() }
            var producerConf = ProducerConf()
            producerConf.retryLimit = 4
            producerConf.retryWait = .milliseconds(200)
            let producer = try broker.producer(producerConf)
            try cluster.flaky(.produce, times: 3, error: .notEnoughReplicas)
            // One message, so each attempt is exactly one Produce request and uses up one injected error.
            var single = batch(0..<1)
            #expect(try producer.produce("t", partition: 0, messages: &single) == 0)
            #expect(clock.sleeps == Array(repeating: .milliseconds(200), count: 3))
            // A larger call may travel in several requests; whatever the split, each message is
            // written once, at the offset the call reported for it.
            try cluster.flaky(.produce, times: 2, error: .notEnoughReplicas)
            var messages = batch(1..<5)
            let first = try producer.produce("t", partition: 0, messages: &messages)
            #expect(first == messages[0].offset)
            #expect(Set(messages.map(\.offset)) == Set(1..<5))
            var consumerConf = ConsumerConf(topic: "t", partition: 0)
            consumerConf.retryLimit = 10
            let consumer = try broker.consumer(consumerConf)
            let stored = try (0..<5).map { _ in try consumer.consume() }
            for message in messages {
                #expect(stored[Int(message.offset)].value == message.value)
            }
            #expect(try broker.offsetLatest("t", partition: 0) == 5)
        }
    }

    @Test("produce fails with the broker's code when the errors outlast retryLimit, after exactly retryLimit attempts")
    func produceFailsBeyondRetryLimit() async throws {
        try await withMockCluster(brokers: 1, topics: ["t": 1]) { cluster in
            let (broker, clock) = try dialWithVirtualClock(cluster)
            defer { broker.close() }
            var producerConf = ProducerConf()
            producerConf.retryLimit = 3
            let producer = try broker.producer(producerConf)
            try cluster.flaky(.produce, times: 5, error: .notEnoughReplicas)
            let error = #expect(throws: KafkaError.self) { try producer.produce("t", partition: 0, messages: batch(0..<1)) }
            #expect(error?.errorCode == .notEnoughReplicas)
            #expect(clock.sleeps.count == 2)
            try cluster.clearErrors(.produce)
            #expect(try producer.produce("t", partition: 0, messages: batch(0..<1)) == 0)
        }
    }

    @Test("leader changes are followed by librdkafka itself and cost no attempt")
    func leaderChangeIsTransparent() async throws {
        try await withMockCluster(brokers: 3, topics: ["t": 1]) { cluster in
            let (broker, clock) = try dialWithVirtualClock(cluster)
            defer { broker.close() }
            try cluster.flaky(.produce, times: 3, error: .notLeaderForPartition)
            #expect(try await broker.producer().produce("t", partition: 0, messages: batch(0..<3)) == 0)
            #expect(clock.sleeps.isEmpty)
        }
    }

    @Test("a permanent broker error is not retried")
    func permanentErrorNotRetried() async throws {
        try await withMockCluster(brokers: 1, topics: ["t": 1]) { cluster in
            let (broker, clock) = try dialWithVirtualClock(cluster)
            defer { broker.close() }
            try cluster.failNext(.produce, with: [.topicAuthorizationFailed])
            let error = #expect(throws: KafkaError.self) { try broker.producer().produce("t", partition: 0, messages: batch(0..<1)) }
            #expect(error?.errorCode == .topicAuthorizationFailed)
            #expect(clock.sleeps.isEmpty)
        }
    }

    @Test("with acks all, a leader taken down mid-stream and brought back loses nothing and repeats nothing")
    func brokerDownAndUp() async throws {
        try await withMockCluster(brokers: 3, topics: ["t": 1]) { cluster in
            let broker = try await Broker.dial(cluster.addresses)
            defer { broker.close() }
            let producer = try broker.producer()
            try await producer.produce("t", partition: 0, messages: batch(0..<50))
            let metadata = try await broker.metadata()
            let leader = try #require(metadata.topic("t")?.partitions.first?.leader)
            try cluster.setDown(broker: leader)
            let pending = Task { try await producer.produce("t", partition: 0, messages: batch(50..<100)) }
            try await Task.sleep(for: .milliseconds(300))  // the leader is down for a while, whatever the producer does
            try cluster.setUp(broker: leader)
            #expect(try await pending.value == 50)
            try await producer.produce("t", partition: 0, messages: batch(100..<150))
            var conf = ConsumerConf(topic: "t", partition: 0)
            conf.retryLimit = 5
            var seen: [String] = []
            for try await message in try await broker.consumer(conf) { seen.append(String(decoding: message.value ?? [], as: UTF8.self)) }
            #expect(seen == (0..<150).map { "v\($0)" })
        }
    }

    @Test("a consumer resumes after its partition fails over, with no gap and no repeat")
    func consumerResumesAfterFailover() async throws {
        try await withMockCluster(brokers: 3, topics: ["t": 1]) { cluster in
            let broker = try await Broker.dial(cluster.addresses)
            defer { broker.close() }
            let producer = try broker.producer()
            try await producer.produce("t", partition: 0, messages: batch(0..<100))
            var conf = ConsumerConf(topic: "t", partition: 0)
            conf.retryLimit = 40
            conf.retryWait = .milliseconds(25)
            let consumer = try await broker.consumer(conf)
            var offsets: [Int64] = []
            for _ in 0..<50 { offsets.append(try await consumer.consume().offset) }
            let metadata = try await broker.metadata()
            let leader = try #require(metadata.topic("t")?.partitions.first?.leader)
            try cluster.failover(topic: "t", partition: 0, to: leader % 3 + 1)
            try await producer.produce("t", partition: 0, messages: batch(100..<200))
            for try await message in consumer { offsets.append(message.offset) }
            #expect(offsets == Array(0..<200))
        }
    }

    @Test("a permanent error on a watermark query surfaces the broker's code at once")
    func watermarkErrors() async throws {
        try await withMockCluster(brokers: 1, topics: ["t": 1]) { cluster in
            let (broker, clock) = try dialWithVirtualClock(cluster)
            defer { broker.close() }
            try cluster.failNext(.listOffsets, with: [.topicAuthorizationFailed, .topicAuthorizationFailed])
            let error = #expect(throws: KafkaError.self) { try broker.offsetEarliest("t", partition: 0) }
            #expect(error?.errorCode == .topicAuthorizationFailed)
            #expect(clock.sleeps.isEmpty)
        }
    }
}
