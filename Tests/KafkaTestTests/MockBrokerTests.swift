import Kafka
import KafkaTest
import Testing
import KafkaTestSupport

@Suite("Tier 1: in-memory mocks", .ownThreads)
struct MockBrokerTests {
    @Test("asking for the same partition's consumer twice returns the same instance")
    func sameConsumer() throws {
        let broker = MockBroker(topics: ["t": 2])
        let first = try broker.consumer(ConsumerConf(topic: "t", partition: 1))
        let second = try broker.consumer(ConsumerConf(topic: "t", partition: 1))
        #expect(first === second)
        #expect(first !== (try broker.consumer(ConsumerConf(topic: "t", partition: 0))))
    }

    @Test("pushed messages and errors come out in order, stamped with the consumer's topic and partition")
    func scriptedConsumer() async throws {
        let broker = MockBroker(topics: ["t": 1])
        let consumer = try broker.consumer(ConsumerConf(topic: "t", partition: 0))
        consumer.push(Message(value: "one"))
        consumer.push(KafkaError.broker(.requestTimeout, message: "scripted"))
        consumer.push(Message(value: "two"))
        #expect(try await consumer.consume().value == Array("one".utf8))
        await #expect(throws: KafkaError.broker(.requestTimeout, message: "scripted")) { try await consumer.consume() }
        let two = try await consumer.consume()
        #expect(two.value == Array("two".utf8))
        #expect(two.topic == "t" && two.partition == 0)
    }

    @Test("a consumer with no retry limit waits for a message pushed from another task")
    func waitsForPush() async throws {
        let broker = MockBroker(topics: ["t": 1])
        let consumer = try broker.consumer(ConsumerConf(topic: "t", partition: 0))
        async let received = consumer.consume()
        try await Task.sleep(for: .milliseconds(50))  // nothing to wait for: the consumer must still be blocked
        try await broker.producer().produce("t", partition: 0, messages: [Message(value: "late")])
        #expect(try await received.value == Array("late".utf8))
    }

    @Test("close wakes a blocked mock consumer with closed")
    func closeWakesConsumer() async throws {
        let broker = MockBroker(topics: ["t": 1])
        let consumer = try broker.consumer(ConsumerConf(topic: "t", partition: 0))
        let received = Task { try await consumer.consume() }
        try await Task.sleep(for: .milliseconds(50))
        broker.close()
        await #expect(throws: KafkaError.closed) { try await received.value }
    }

    @Test("readProducers returns each call with offsets and Go's CRC, and times out with a clear error")
    func readProducers() async throws {
        let broker = MockBroker(topics: ["t": 2])
        let producer = try broker.producer()
        try await producer.produce("t", partition: 1, messages: [Message(key: "foo", value: "bar")])
        let call = try await broker.readProducers(timeout: .seconds(1))
        #expect(call.topic == "t" && call.partition == 1)
        #expect(call.messages[0].offset == 0)
        #expect(call.messages[0].crc == 0xb8ba_5f57)
        let error = #expect(throws: KafkaError.self) { try broker.readProducers(timeout: .milliseconds(20)) }
        #expect(error?.description.contains("no produce call within") == true)
    }

    @Test("Go's counter mode numbers offsets per producer from 1")
    func counterMode() throws {
        let broker = MockBroker(topics: ["a": 1, "b": 1])
        let producer = try broker.producer()
        producer.offsetMode = .counter(first: 1)
        #expect(try producer.produce("a", partition: 0, messages: [Message(value: "x"), Message(value: "y")]) == 1)
        #expect(try producer.produce("b", partition: 0, messages: [Message(value: "z")]) == 3)
    }

    @Test("a response error fails every produce and writes nothing")
    func responseError() throws {
        let broker = MockBroker(topics: ["t": 1])
        let producer = try broker.producer()
        producer.responseError = .broker(.notLeaderForPartition, message: "scripted")
        #expect(throws: KafkaError.broker(.notLeaderForPartition, message: "scripted")) {
            try producer.produce("t", partition: 0, messages: [Message(value: "x")])
        }
        #expect(broker.messages("t", partition: 0).isEmpty)
    }

    @Test("watermark handlers override the logs; without them unknown partitions are unknownTopicOrPartition")
    func watermarkHandlers() throws {
        let plain = MockBroker()
        #expect(throws: KafkaError.self) { try plain.offsetLatest("x", partition: 0) }
        let scripted = MockBroker(offsetEarliestHandler: { _, _ in 10 }, offsetLatestHandler: { _, partition in Int64(partition) * 100 })
        #expect(try scripted.offsetEarliest("x", partition: 0) == 10)
        #expect(try scripted.offsetLatest("x", partition: 3) == 300)
    }

    @Test("coordinator handlers receive the group; the store is shared by coordinators of a group")
    func coordinatorHandlers() throws {
        let broker = MockBroker(topics: ["t": 1])
        let first = try broker.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: "g"))
        try first.commit("t", partition: 0, offset: 3)
        #expect(try broker.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: "g")).offset("t", partition: 0) == (3, ""))
        let scripted = try broker.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: "h"))
        scripted.offsetHandler = { group, topic, partition in (Int64(partition) + 40, "\(group)/\(topic)") }
        #expect(try scripted.offset("t", partition: 2) == (42, "h/t"))
        #expect(broker.snapshot().committed == ["g": ["t:0": 3]])
    }

    @Test("addMessages creates partitions and a snapshot counts them")
    func addMessages() throws {
        let broker = MockBroker()
        broker.addMessages("new", partition: 2, [Message(value: "a"), Message(value: "b")])
        #expect(broker.snapshot().topics == ["new": [0, 0, 2]])
        #expect(try broker.partitionCount("new") == 3)
        broker.reset()
        #expect(broker.snapshot().topics == ["new": [0, 0, 0]])
    }
}

@Suite("Mx over in-memory mocks", .ownThreads)
struct MxMockTests {
    @Test("messages and errors of every consumer come through; noData removes a consumer (Go's TestMultiplexerConsume)")
    func messagesAndErrors() throws {
        let broker = MockBroker(topics: ["a": 1, "b": 1])
        let a = try broker.consumer(ConsumerConf(topic: "a", partition: 0))
        let b = try broker.consumer(ConsumerConf(topic: "b", partition: 0))
        for index in 0..<2 {
            a.push(Message(value: "a\(index)"))
            a.push(KafkaError.broker(.requestTimeout, message: "a"))
            b.push(Message(value: "b\(index)"))
            b.push(KafkaError.broker(.requestTimeout, message: "b"))
        }
        a.push(KafkaError.noData)
        b.push(KafkaError.noData)
        let mx = Mx.merge([a, b])
        var messages = 0
        var errors = 0
        while true {
            do {
                _ = try mx.consume()
                messages += 1
            } catch KafkaError.mxClosed {
                break
            } catch {
                errors += 1
            }
        }
        #expect(messages == 4)
        #expect(errors == 4)
        #expect(mx.workers == 0)
    }

    @Test("close is idempotent, wakes waiting callers with mxClosed and does not wait for blocked workers")
    func closeWakesWaiters() async throws {
        let broker = MockBroker(topics: ["a": 1])
        let blocked = try broker.consumer(ConsumerConf(topic: "a", partition: 0))
        let mx = Mx.merge([blocked])
        let waiting = Task { try await mx.consume() }
        try await Task.sleep(for: .milliseconds(50))
        mx.close()
        mx.close()
        await #expect(throws: KafkaError.mxClosed) { try await waiting.value }
        #expect(throws: KafkaError.mxClosed) { try mx.consume() }
        broker.close()
    }

    @Test("an Mx over no consumers does not close by itself")
    func emptyMx() async throws {
        let mx = Mx.merge([])
        #expect(mx.workers == 0)
        let waiting = Task { try await mx.consume() }
        try await Task.sleep(for: .milliseconds(50))
        mx.close()
        await #expect(throws: KafkaError.mxClosed) { try await waiting.value }
    }
}

@Suite("Tier 1: expectation mode", .ownThreads)
struct ExpectationModeTests {
    @Test("expected calls pass, scripted failures are thrown and write nothing")
    func expectedCalls() throws {
        let broker = MockBroker(topics: ["t": 1])
        let producer = try broker.producer()
        let expected = producer.expectations { $0.expect(3, to: "t", failing: [1: .broker(.notEnoughReplicas, message: "scripted")]) }
        #expect(try producer.produce("t", partition: 0, messages: [Message(value: "a")]) == 0)
        #expect(throws: KafkaError.broker(.notEnoughReplicas, message: "scripted")) {
            try producer.produce("t", partition: 0, messages: [Message(value: "b")])
        }
        #expect(try producer.produce("t", partition: 0, messages: [Message(value: "c")]) == 1)
        expected.verify()
        #expect(expected.problems.isEmpty)
    }

    @Test("unmet and unexpected calls are reported as issues")
    func unmetExpectations() throws {
        let broker = MockBroker(topics: ["t": 1, "u": 1])
        let producer = try broker.producer()
        let expected = producer.expectations { $0.expect(2, to: "t") }
        try producer.produce("t", partition: 0, messages: [Message(value: "a")])
        withKnownIssue("the second expected call never happens") {
            expected.verify()
        }
        withKnownIssue("a call to another topic is reported") {
            _ = try? producer.produce("u", partition: 0, messages: [Message(value: "b")])
        }
        #expect(expected.problems == ["produce call #2 went to u, expected t"])
    }
}
