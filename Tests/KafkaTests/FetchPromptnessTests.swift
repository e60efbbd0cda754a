import Foundation
import Kafka
import KafkaTest
import Synchronization
import Testing
import KafkaTestSupport

@Suite("Fetches return promptly and report noData only when caught up", .ownThreads, .timeLimit(.minutes(3)))
struct FetchPromptnessTests {
    @Test("a blocking consume() with messages ready returns well within a 2 s requestTimeout")
    func readyMessages() throws {
        let cluster = try MockCluster(brokers: 1, topics: ["ready": 1])
        defer { cluster.close() }
        let broker = try Broker.dial(cluster.addresses)
        defer { broker.close() }
        try broker.producer().produce("ready", partition: 0, messages: (0..<10).map { Message(value: "m\($0)") })
        var conf = ConsumerConf(topic: "ready", partition: 0)
        conf.startOffset = .oldest
        conf.requestTimeout = .seconds(2)
        let consumer = try broker.consumer(conf)
        defer { consumer.close() }
        let start = ContinuousClock.now
        for expected in Int64(0)..<10 { #expect(try consumer.consume().offset == expected) }
        let took = ContinuousClock.now - start
        // A batch call waiting to fill 1,000 messages took the whole 2 s window here.
        #expect(took < .seconds(1), "ten ready messages took \(took)")
    }

    @Test("messages produced one at a time to a waiting blocking consume() each come back promptly", arguments: ["partition", "group"])
    func trickle(kind: String) throws {
        let cluster = try MockCluster(brokers: 1, topics: ["trickle": 1])
        defer { cluster.close() }
        let broker = try Broker.dial(cluster.addresses)
        defer { broker.close() }
        let producer = try broker.producer()
        let consumer: any Consumer
        if kind == "partition" {
            var conf = ConsumerConf(topic: "trickle", partition: 0)
            conf.startOffset = .oldest
            conf.requestTimeout = .seconds(2)
            consumer = try broker.consumer(conf)
        } else {
            consumer = try broker.groupConsumer(quickGroup("tricklers", ["trickle"]) { $0.requestTimeout = .seconds(2) })
            // The member's first message: it has joined and fetches once this returns.
            try producer.produce("trickle", partition: 0, messages: [Message(value: "join")])
            _ = try consumer.consume()
        }
        let received = Mutex<[ContinuousClock.Instant]>([])
        let done = DispatchSemaphore(value: 0)
        let count = 5
        Thread.detachNewThread {
            defer { done.signal() }
            for _ in 0..<count {
                guard (try? consumer.consume()) != nil else { return }
                received.withLock { $0.append(.now) }
            }
        }
        var sent: [ContinuousClock.Instant] = []
        for index in 0..<count {
            try eventually(.seconds(10), "message \(index - 1) received") { received.withLock { $0.count } == index }
            try producer.produce("trickle", partition: 0, messages: [Message(value: "t\(index)")])
            sent.append(.now)
        }
        done.wait()
        let latencies = zip(sent, received.withLock { $0 }).map { $1 - $0 }
        #expect(latencies.count == count)
        // Each was handed out when its fetch brought it, not at the end of the 2 s window (which
        // gave 1.8-3.9 s here with the batch call).
        #expect(latencies.allSatisfy { $0 < .milliseconds(1500) }, "\(latencies)")
        if let group = consumer as? GroupConsumer { group.close() }
        if let partition = consumer as? BrokerConsumer { partition.close() }
    }

    @Test("consumers of one shared handle made at random moments, some partitions empty: an Mx hands out every message before it closes (100 rounds)", arguments: 0..<5)
    func sharedHandleNoData(batch: Int) async throws {
        // On a thread of its own: 20 blocking rounds must not hold a thread of the test pool.
        let shortfalls = try await onOwnThread { try Self.sharedHandleRounds(batch: batch) }
        #expect(shortfalls.isEmpty, "\(shortfalls.joined(separator: "; "))")
    }

    /// The rounds of ``sharedHandleNoData(batch:)``; what went wrong, one line per round.
    private static func sharedHandleRounds(batch: Int) throws -> [String] {
        var shortfalls: [String] = []
        let cluster = try MockCluster(brokers: 1)
        defer { cluster.close() }
        let broker = try Broker.dial(cluster.addresses)
        defer { broker.close() }
        let producer = try broker.producer()
        let topic = "shared-\(batch)"
        try cluster.createTopic(topic, partitions: 8)
        var expected = 0
        for partition in Int32(0)..<8 where partition % 2 == 0 {
            try producer.produce(topic, partition: partition, messages: (0..<5).map { Message(value: "m\($0)") })
            expected += 5
        }
        // Each round reads the topic anew with new consumers: the handle they share is new too
        // (the last round's was retired when its consumers closed), and its first fetches race.
        for round in 0..<20 {
            var consumers: [any Consumer] = []
            for partition in Int32(0)..<8 {
                var conf = ConsumerConf(topic: topic, partition: partition)
                conf.startOffset = .oldest
                conf.retryLimit = 1
                conf.requestTimeout = .milliseconds(50)
                conf.retryWait = .milliseconds(10)
                consumers.append(try broker.consumer(conf))
                Thread.sleep(forTimeInterval: Double.random(in: 0...0.02))  // random creation moments, on purpose
            }
            let mx = Mx.merge(consumers)
            var got = 0
            while true {
                do {
                    _ = try mx.consume()
                    got += 1
                } catch KafkaError.mxClosed {
                    break
                }
            }
            if got != expected { shortfalls.append("batch \(batch) round \(round): the Mx closed after \(got) of \(expected) messages") }
            for consumer in consumers { (consumer as? BrokerConsumer)?.close() }
        }
        return shortfalls
    }
}
