import Foundation
import Synchronization
import Kafka
import KafkaTest
import Testing
import KafkaTestSupport

@Suite("Cancellation and waiting without threads", .ownThreads)
struct CancellationTests {
    @Test("a cancelled async consume waiting on an empty partition throws CancellationError at once, and loses nothing")
    func cancelWaitingConsume() async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["quiet": 1])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        let consumer = try await broker.consumer(ConsumerConf(topic: "quiet", partition: 0))
        let waiting = OffPoolTask { try await consumer.consume() }
        try await Task.sleep(for: .milliseconds(300))
        let cancelled = waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.task.value }
        // Measured where the call ended, on its own thread (the consume would otherwise wait for ever).
        #expect(try #require(waiting.endedAfter(cancelled)) < .milliseconds(500), "not at once (500 ms leaves room for a loaded machine's scheduler; the wait it cut short is seconds)")
        try await broker.producer().produce("quiet", partition: 0, messages: [Message(value: "after")])
        #expect(try await consumer.consume().value == Array("after".utf8))
    }

    @Test("64 async consumes waiting on empty partitions hold no thread: other async calls answer at once", .timeLimit(.minutes(2)))
    func manyWaitingConsumes() async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["wide": 64])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        let consumers = try await withThrowingTaskGroup(of: BrokerConsumer.self) { group in
            for partition in 0..<64 { group.addTask { try await broker.consumer(ConsumerConf(topic: "wide", partition: Int32(partition))) } }
            return try await group.reduce(into: []) { $0.append($1) }.sorted { $0.conf.partition < $1.conf.partition }
        }
        let threadsBefore = libraryThreadCount()
        let waiting = consumers.map { consumer in Task { try await consumer.consume() } }
        try await Task.sleep(for: .milliseconds(300))
        // Timed where the call ended, on a thread of its own: under load the test pool's
        // scheduling (3 s seen) is not the library's answer time.
        let asked = ContinuousClock.now
        let query = OffPoolTask { try await broker.offsetLatest("wide", partition: 3) }
        #expect(try await query.task.value == 0)
        let answered = try #require(query.endedAfter(asked))
        #expect(answered < .seconds(2), "another async call waited \(answered) beside 64 waiting consumes")
        // The library's own threads only ("kafka-…"): other tests running beside this one start
        // librdkafka and task threads of their own. 64 consumes each holding a thread would add 64;
        // the other tests' brokers add a few poll threads at most.
        let added = libraryThreadCount() - threadsBefore
        #expect(added < 32, "64 waiting consumes added \(added) of the library's threads")
        try await broker.producer().produce("wide", partition: 7, messages: [Message(value: "seven")])
        #expect(try await waiting[7].value.value == Array("seven".utf8))
        for task in waiting { task.cancel() }
        for (index, task) in waiting.enumerated() where index != 7 {
            await #expect(throws: CancellationError.self) { try await task.value }
        }
    }

    @Test("closing a consumer wakes its waiting async consume with closed")
    func closeWakesAsyncConsume() async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["shut": 1])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        let consumer = try await broker.consumer(ConsumerConf(topic: "shut", partition: 0))
        let waiting = Task { try await consumer.consume() }
        try await Task.sleep(for: .milliseconds(200))
        consumer.close()
        await #expect(throws: KafkaError.closed) { try await waiting.value }
    }

    @Test("a cancelled async dial ends at once", .timeLimit(.minutes(1)))
    func cancelDial() async throws {
        var conf = BrokerConf()
        conf.dialRetryLimit = 10_000  // over half an hour: the cancel always comes first, however slow the test thread
        conf.dialRetryWait = .milliseconds(200)
        let dialConf = conf
        let dial = OffPoolTask { try await Broker.dial(["127.0.0.1:1"], conf: dialConf) }
        try await Task.sleep(for: .milliseconds(300))
        let cancelled = dial.cancel()
        await #expect(throws: CancellationError.self) { try await dial.task.value }
        // Measured where the call ended, on its own thread; the dial would go on for 10,000 attempts.
        #expect(try #require(dial.endedAfter(cancelled)) < .milliseconds(500), "not at once (500 ms leaves room for a loaded machine's scheduler; the wait it cut short is seconds)")
    }

    @Test("close() returns within a second while a watermark query waits on an unanswering broker; the query throws closed")
    func closeWhileWatermarkQueryWaits() async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["held": 1])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        try cluster.setRTT(broker: 1, .seconds(20))
        let returned = Mutex<ContinuousClock.Instant?>(nil)
        let query = Task {
            try await onThread {
                defer { returned.withLock { $0 = .now } }
                return try broker.offsetLatest("held", partition: 0)
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        let start = ContinuousClock.now
        broker.close()
        #expect(ContinuousClock.now - start < .seconds(1))
        await #expect(throws: KafkaError.closed) { try await query.value }
        // Measured on the query's own thread: the await above also waits for a free thread of
        // the cooperative pool, which suites running in parallel may hold. Two seconds, not one:
        // woken at close, the thread still waits for a core among the hundreds of threads of the
        // suites running beside it (1.0 to 1.4 s seen in full runs on a two-core machine, for
        // the old library code as for the new); the call it cut short would wait 30 s.
        let answered = try #require(returned.withLock { $0 })
        #expect(answered - start < .seconds(2))
    }

    @Test("close() returns within a second while a commit waits on an unanswering coordinator; the commit throws closed")
    func closeWhileCommitWaits() async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["held": 1])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        let coordinator = try broker.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: "slow-group"))
        try cluster.setRTT(broker: 1, .seconds(20))
        let commit = Task { try await onThread { try coordinator.commit("held", partition: 0, offset: 1) } }
        try await Task.sleep(for: .milliseconds(300))
        let start = ContinuousClock.now
        broker.close()
        #expect(ContinuousClock.now - start < .seconds(1))
        await #expect(throws: KafkaError.closed) { try await commit.value }
    }
}

/// The process's threads the library named ("kafka-call", "kafka-poll-…", …): a count that
/// threads of librdkafka, the task pool and the test runner do not move.
func libraryThreadCount() -> Int {
    ThreadSampler.countByName().filter { $0.key.hasPrefix("kafka-") }.values.reduce(0, +)
}
