import Kafka
import KafkaTest
import KafkaTestSupport
import Testing

@Suite("Producer", .ownThreads)
struct ProducerTests {
    @Test("produce returns the first offset and stamps every message")
    func produceStampsOffsets() throws {
        let cluster = try TestCluster()
        let topic = try cluster.topic()
        let broker = try cluster.dial()
        defer { broker.close() }
        let producer = try broker.producer()
        var first = values(0..<3)
        #expect(try producer.produce(topic, partition: 0, messages: &first) == 0)
        #expect(first.map(\.offset) == [0, 1, 2])
        #expect(first.allSatisfy { $0.topic == topic && $0.partition == 0 })
        var second = values(3..<5)
        #expect(try producer.produce(topic, partition: 0, messages: &second) == 3)
        #expect(second.map(\.offset) == [3, 4])
    }

    @Test("async produce suspends until acknowledged")
    func asyncProduce() async throws {
        let cluster = try TestCluster()
        let topic = try cluster.topic()
        let broker = try cluster.dial()
        defer { broker.close() }
        var messages = values(0..<10)
        let offset = try await broker.producer().produce(topic, partition: 0, messages: &messages)
        #expect(offset == 0)
        #expect(messages.last?.offset == 9)
    }

    @Test("a call larger than librdkafka's queue goes through whole and in order, sync and async, with and without headers")
    func callLargerThanTheQueue() async throws {
        let cluster = try TestCluster()
        let topic = try cluster.topic()
        let broker = try cluster.dial { $0.properties["queue.buffering.max.messages"] = "100" }
        defer { broker.close() }
        let producer = try broker.producer()
        let blocking = try await onThread { () -> [Message] in
            var messages = values(0..<1050)
            try producer.produce(topic, partition: 0, messages: &messages)
            return messages
        }
        #expect(blocking.map(\.offset) == Array(0..<1050))
        var suspending = values(1050..<2100)
        #expect(try await producer.produce(topic, partition: 0, messages: &suspending) == 1050)
        #expect(suspending.map(\.offset) == Array(1050..<2100))
        var withHeaders = values(2100..<2350).map { message in
            var message = message
            message.headers = [Header(key: "h", value: [1])]
            return message
        }
        #expect(try await producer.produce(topic, partition: 0, messages: &withHeaders) == 2100)
        #expect(withHeaders.map(\.offset) == Array(2100..<2350))

        var conf = ConsumerConf(topic: topic, partition: 0)
        conf.retryLimit = 2
        var texts: [String] = []
        for try await message in try await broker.consumer(conf) { texts.append(message.text ?? "") }
        #expect(texts == (0..<2350).map { "m\($0)" })
    }

    @Test("concurrent calls larger than librdkafka's queue, blocking and async, all complete with their own offsets")
    func concurrentCallsLargerThanTheQueue() async throws {
        let cluster = try TestCluster()
        let topic = try cluster.topic()
        let broker = try cluster.dial { $0.properties["queue.buffering.max.messages"] = "100" }
        defer { broker.close() }
        let producer = try broker.producer()
        let calls = 6
        let perCall = 400
        let finished = Task { () -> [[Int64]] in
            try await withThrowingTaskGroup(of: [Int64].self) { group in
                for call in 0..<calls {
                    group.addTask {
                        var messages = values(0..<perCall, prefix: "c\(call)-")
                        if call % 2 == 0 {
                            try await producer.produce(topic, partition: 0, messages: &messages)
                            return messages.map(\.offset)
                        }
                        return try await onThread { [messages] in
                            var blocking = messages
                            try producer.produce(topic, partition: 0, messages: &blocking)
                            return blocking.map(\.offset)
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        // A hang detector, not a timing promise: the async calls need threads of the test pool,
        // which blocking tests of other suites can hold for tens of seconds.
        let watchdog = Task {
            try await Task.sleep(for: .seconds(120))
            finished.cancel()
        }
        defer { watchdog.cancel() }
        let offsets = try await finished.value
        #expect(offsets.count == calls, "a call did not finish within 120 s")
        // Every call's messages got distinct offsets, each call's in order, and together all of them.
        #expect(offsets.allSatisfy { $0 == $0.sorted() && Set($0).count == perCall })
        #expect(Set(offsets.joined()) == Set(0..<Int64(calls * perCall)))
    }

    @Test("closing the broker ends produce calls that wait for room in the queue, blocking and async, with closed")
    func closeWhileWaitingForRoom() async throws {
        let cluster = try TestCluster()
        guard let mock = cluster.mock else { return }  // needs a slow broker
        let topic = try cluster.topic()
        let broker = try cluster.dial { $0.properties["queue.buffering.max.messages"] = "10" }
        let producer = try broker.producer()
        try await producer.produce(topic, partition: 0, messages: values(0..<1))
        let leader = try #require(try await broker.metadata().topic(topic)?.partitions.first?.leader)
        try mock.setRTT(broker: leader, .milliseconds(200))
        let suspended = Task { () -> Result<Int64, any Error> in
            do { return .success(try await producer.produce(topic, partition: 0, messages: values(0..<1000))) } catch { return .failure(error) }
        }
        let blocked = Task { () -> Result<Int64, any Error> in
            do { return .success(try await onThread { try producer.produce(topic, partition: 0, messages: values(0..<1000)) }) } catch { return .failure(error) }
        }
        try await Task.sleep(for: .milliseconds(300))  // let the calls fill the queue: there is no event to wait for
        let start = ContinuousClock.now
        broker.close()
        let (asyncResult, blockingResult) = await (suspended.value, blocked.value)
        // Measured by this test's task, which waits for a thread of the test pool (10 s seen while
        // blocking tests held it); the calls would need about 20 s to finish without the close, and
        // both must end with closed.
        #expect(ContinuousClock.now - start < .seconds(30), "close took too long")
        #expect(throws: KafkaError.closed) { try asyncResult.get() }
        #expect(throws: KafkaError.closed) { try blockingResult.get() }
    }
}
