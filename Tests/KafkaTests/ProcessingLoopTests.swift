import Foundation
import Kafka
import KafkaTest
import Synchronization
import Testing

/// What a processing loop's handlers saw, in order, and how many ran at once.
final class HandlerLog: Sendable {
    private struct State {
        var seen: [(key: String, partition: Int32, offset: Int64)] = []
        var running = 0
        var mostRunning = 0
    }

    private let state = Mutex(State())

    func started() { state.withLock { $0.running += 1; $0.mostRunning = max($0.mostRunning, $0.running) } }
    func ended(_ message: Message) {
        state.withLock {
            $0.running -= 1
            $0.seen.append((String(decoding: message.key ?? [], as: UTF8.self), message.partition, message.offset))
        }
    }

    var count: Int { state.withLock { $0.seen.count } }
    var mostRunning: Int { state.withLock { $0.mostRunning } }
    var seen: [(key: String, partition: Int32, offset: Int64)] { state.withLock { $0.seen } }
}

/// Polls `condition` every 10 ms for at most `within`.
func eventually(within: Duration, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + within
    while !condition() {
        guard ContinuousClock.now < deadline else { return false }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return true
}

@Suite("Processing loop: concurrency with per-key order", .serialized, .timeLimit(.minutes(3)))
struct ProcessingLoopTests {
    @Test("random keys over 4 partitions, random handler delays: each key in offset order, every message once, commits cover only handled ones")
    func perKeyOrder() async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["work": 4])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        var produced = 0
        for partition in Int32(0)..<4 {
            let messages = (0..<100).map { index in Message(key: Array("k\(Int.random(in: 0..<12))".utf8), value: Array("p\(partition)-\(index)".utf8)) }
            produced += messages.count
            try await broker.producer().produce("work", partition: partition, messages: messages)
        }
        let log = HandlerLog()
        var conf = ProcessingConf()
        conf.concurrency = 16
        conf.commitInterval = .milliseconds(100)
        let loop = try ProcessingLoop(broker: broker, group: quickGroup("order", ["work"])) { message in
            log.started()
            try await Task.sleep(for: .microseconds(Int.random(in: 0..<3000)))
            log.ended(message)
        }
        let running = Task { try await loop.run() }
        let all = await eventually(within: .seconds(60)) { log.count >= produced }
        #expect(all, "handled \(log.count) of \(produced)")
        running.cancel()
        try await running.value

        let seen = log.seen
        #expect(seen.count == produced, "every message once")
        #expect(Set(seen.map { "\($0.partition)/\($0.offset)" }).count == produced)
        var lastOffset: [String: Int64] = [:]
        for entry in seen {
            let key = "\(entry.partition)/\(entry.key)"
            #expect(entry.offset > lastOffset[key, default: -1], "key \(key) out of order at \(entry.offset)")
            lastOffset[key] = entry.offset
        }
        #expect(log.mostRunning > 1, "handlers ran side by side")
        #expect(log.mostRunning <= 16)
        let committed = try await broker.committedOffsets(group: "order", topics: ["work"])
        #expect(committed == Dictionary(uniqueKeysWithValues: (Int32(0)..<4).map { (TopicPartition("work", $0), Int64(100)) }))
    }

    @Test("a slow message holds back its partition's commit, not the others'; stopping commits only the contiguous run")
    func contiguousCommits() async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["slow": 2])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        try await broker.producer().produce("slow", partition: 0, messages: (0..<10).map { Message(key: Array("k\($0)".utf8), value: Array("v".utf8)) })
        try await broker.producer().produce("slow", partition: 1, messages: (0..<10).map { Message(key: Array("k\($0)".utf8), value: Array("v".utf8)) })
        let log = HandlerLog()
        var conf = ProcessingConf()
        conf.concurrency = 8
        conf.commitInterval = .milliseconds(50)
        conf.revokeDeadline = .milliseconds(200)
        let loop = try ProcessingLoop(broker: broker, group: quickGroup("held", ["slow"]), conf: conf) { message in
            log.started()
            if message.partition == 0, message.offset == 3 {
                try await Task.sleep(for: .seconds(3600))  // never finishes: cancelled when the loop stops
            }
            log.ended(message)
        }
        let running = Task { try await loop.run() }
        let others = await eventually(within: .seconds(60)) { log.count >= 19 }
        #expect(others, "handled \(log.count) of the 19 that can finish")
        let heldBack = await eventually(within: .seconds(10)) {
            (try? broker.committedOffsets(group: "held", topics: ["slow"])) == [TopicPartition("slow", 0): 3, TopicPartition("slow", 1): 10]
        }
        let seenCommitted = try? await broker.committedOffsets(group: "held", topics: ["slow"])
        #expect(heldBack, "committed \(String(describing: seenCommitted))")
        running.cancel()
        try await running.value
        #expect(try await broker.committedOffsets(group: "held", topics: ["slow"]) == [TopicPartition("slow", 0): 3, TopicPartition("slow", 1): 10])
    }

    @Test("a handler that keeps failing: retried through the clock, then sent to the dead-letter topic with headers naming its origin")
    func deadLetters() async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["in": 1, "dead": 1])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        try await broker.producer().produce("in", partition: 0, messages: [Message(key: "a", value: "ok"), Message(key: "b", value: "bad"), Message(key: "c", value: "ok")])
        let attempts = Mutex(0)
        let clock = VirtualClock()
        var conf = ProcessingConf()
        conf.failure = .retry(attempts: 3, backoff: .seconds(10), then: .deadLetter(topic: "dead"))
        conf.clock = clock
        conf.commitInterval = .milliseconds(50)
        let loop = try ProcessingLoop(broker: broker, group: quickGroup("dlq", ["in"]), conf: conf) { message in
            if message.value == Array("bad".utf8) {
                attempts.withLock { $0 += 1 }
                throw KafkaError.invalidArgument("cannot handle")
            }
        }
        let running = Task { try await loop.run() }
        let committed = await eventually(within: .seconds(60)) { (try? broker.committedOffsets(group: "dlq", topics: ["in"])) == [TopicPartition("in", 0): 3] }
        #expect(committed)
        running.cancel()
        try await running.value
        #expect(attempts.withLock { $0 } == 3)
        #expect(clock.elapsed >= .seconds(30), "backoffs 10 s then 20 s, on the virtual clock")
        var read = ConsumerConf(topic: "dead", partition: 0)
        read.retryLimit = 20
        let dead = try await broker.consumer(read).consume()
        #expect(dead.key == Array("b".utf8) && dead.value == Array("bad".utf8))
        let headers = Dictionary(uniqueKeysWithValues: dead.headers.map { ($0.key, String(decoding: $0.value ?? [], as: UTF8.self)) })
        #expect(headers["kafka.dlq.topic"] == "in" && headers["kafka.dlq.partition"] == "0" && headers["kafka.dlq.offset"] == "1")
        #expect(headers["kafka.dlq.error"]?.contains("cannot handle") == true)
    }

    @Test("failure policy stop: run() rethrows the handler's error and commits nothing past the failed message")
    func stopOnFailure() async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["in": 1])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        try await broker.producer().produce("in", partition: 0, messages: (0..<5).map { Message(key: Array("k\($0)".utf8), value: Array("\($0)".utf8)) })
        var conf = ProcessingConf()
        conf.failure = .stop
        conf.concurrency = 1
        let loop = try ProcessingLoop(broker: broker, group: quickGroup("stops", ["in"]), conf: conf) { message in
            if message.offset == 2 { throw KafkaError.invalidArgument("poison") }
        }
        await #expect(throws: KafkaError.invalidArgument("poison")) { try await loop.run() }
        #expect(try await broker.committedOffsets(group: "stops", topics: ["in"]) == [TopicPartition("in", 0): 2])
    }

    @Test("invalid settings are refused before the group is joined")
    func validation() async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["in": 1])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        var conf = ProcessingConf()
        conf.concurrency = 0
        #expect(throws: KafkaError.invalidConfiguration("ProcessingConf.concurrency is 0; use at least 1")) {
            try ProcessingLoop(broker: broker, group: quickGroup("v", ["in"]), conf: conf) { _ in }
        }
        conf = ProcessingConf()
        conf.maxBufferedMessages = 4
        #expect(throws: KafkaError.self) { try ProcessingLoop(broker: broker, group: quickGroup("v", ["in"]), conf: conf) { _ in } }
    }
}
