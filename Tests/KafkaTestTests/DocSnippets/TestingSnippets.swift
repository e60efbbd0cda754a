import Kafka
import KafkaTest
import Testing
import KafkaTestSupport

// The in-function Swift blocks of Kafka.docc/Testing.md, verbatim, run as tests. The blocks that
// are whole files are TestingForwarder.swift and TestingTiers.swift.

@Suite("Documentation snippets: testing", .ownThreads)
struct TestingSnippetTests {
    @Test func scriptedConsumer() throws {
        let kafka = MockBroker(topics: ["events": 1])
        let consumer = try kafka.consumer(ConsumerConf(topic: "events", partition: 0))
        consumer.push(Message(value: "scripted"))
        consumer.push(KafkaError.broker(.leaderNotAvailable, message: "injected"))
        #expect(try consumer.consume().value == Array("scripted".utf8))
        #expect(throws: KafkaError.broker(.leaderNotAvailable, message: "injected")) { try consumer.consume() }
    }

    @Test func produceExpectations() throws {
        let kafka = MockBroker(topics: ["events": 1])
        let producer = try kafka.producer()
        let expectations = producer.expectations { $0.expect(2, to: "events", failing: [1: .broker(.notEnoughReplicas, message: "")]) }
        try producer.produce("events", partition: 0, messages: [Message(value: "first")])
        #expect(throws: KafkaError.self) { try producer.produce("events", partition: 0, messages: [Message(value: "second")]) }
        expectations.verify()
    }

    @Test func virtualClock() throws {
        let clock = VirtualClock()
        let kafka = MockBroker(topics: ["events": 1], clock: clock)
        var conf = ConsumerConf(topic: "events", partition: 0)
        conf.retryLimit = 3
        let consumer = try kafka.consumer(conf)
        #expect(throws: KafkaError.noData) { try consumer.consume() }
        #expect(clock.sleeps == Array(repeating: conf.retryWait, count: 4))
    }

    @Test func embeddedClusterFaults() async throws {
        try await withMockCluster(brokers: 3, topics: ["orders": 4]) { cluster in
            let broker = try await Broker.dial(cluster.addresses)
            defer { broker.close() }
            try cluster.flaky(.produce, times: 2)                 // the next 2 Produce requests fail (NOT_LEADER_FOR_PARTITION by default)
            try cluster.failover(topic: "orders", partition: 0, to: 2)
            try cluster.setDown(broker: 3)
            // ... exercise your service against `broker`
        }
    }
}
