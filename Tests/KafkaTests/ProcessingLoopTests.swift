import Foundation
import Kafka
import KafkaTest
import KafkaTestSupport
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

/// Keeps the warnings and errors logged, with their fields, in order.
final class WarningLog: KafkaLogger {
    private let lines = Mutex<[String]>([])

    var all: [String] { lines.withLock { $0 } }
    func debug(_ message: String, _ fields: [(String, String)]) {}
    func info(_ message: String, _ fields: [(String, String)]) {}
    func warn(_ message: String, _ fields: [(String, String)]) { add(message, fields) }
    func error(_ message: String, _ fields: [(String, String)]) { add(message, fields) }
    private func add(_ message: String, _ fields: [(String, String)]) {
        lines.withLock { $0.append(([message] + fields.map { "\($0.0)=\($0.1)" }).joined(separator: " ")) }
    }
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

@Suite("Processing loop: concurrency with per-key order", .ownThreads, .serialized, .timeLimit(.minutes(3)))
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

    @Test("a rebalance waits for the handlers of revoked partitions: none runs when the partitions go, none runs on two members at once, none is handled twice where the broker takes the commit made in the revoke")
    func revokeWaits() async throws {
        // One embedded broker, or the brokers of KAFKA_BROKERS (tansu in `make test-tansu`).
        let cluster = try TestCluster(brokers: 1)
        let topic = try await onThread { try cluster.topic("moving", partitions: 2) }
        let groupID = "movers-\(topic)"
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        for partition in Int32(0)..<2 {
            try await broker.producer().produce(topic, partition: partition, messages: (0..<60).map { Message(key: Array("k\($0 % 6)".utf8), value: Array("\($0)".utf8)) })
        }
        let end = Dictionary(uniqueKeysWithValues: (Int32(0)..<2).map { (TopicPartition(topic, $0), Int64(60)) })
        let handled = Mutex<[String: Int]>([:])
        let running = Mutex<[String: Int]>([:])
        let overlaps = Mutex<[String]>([])
        let runningAtRevoke = Mutex<[Int]>([])
        let secondAssigned = Mutex<[TopicPartition]>([])
        func handler(_ delay: Duration) -> @Sendable (Message) async throws -> Void {
            { message in
                let id = "\(message.partition)/\(message.offset)"
                running.withLock { running in
                    running[id, default: 0] += 1
                    if running[id, default: 0] > 1 { overlaps.withLock { $0.append(id) } }
                }
                // A handler cancelled in its sleep (at shutdown) ends too.
                defer { running.withLock { $0[id, default: 1] -= 1 } }
                try await Task.sleep(for: delay)
                handled.withLock { $0[id, default: 0] += 1 }
            }
        }
        var conf = ProcessingConf()
        conf.concurrency = 4
        conf.commitInterval = .milliseconds(100)
        // Below the session timeout (4 s), which the embedded cluster takes as the rebalance
        // timeout: a drain longer than that (seen on a loaded machine with 20 s) got the member
        // evicted while its handlers ran, and the partitions moved under them.
        conf.revokeDeadline = .seconds(2)
        let loops = Mutex<[ProcessingLoop<GroupConsumer>]>([])
        // The loop logs a commit the broker refused in the revoke ("commit before revoke failed").
        let warnings = WarningLog()
        // The group's own hooks run after the loop's: by then the loop's handlers of those partitions ended.
        func member(_ name: String) -> GroupConsumerConf {
            quickGroup(groupID, [topic]) { conf in
                conf.logger = warnings
                conf.rebalance.onAssigned = { rebalance in
                    if name == "second" { secondAssigned.withLock { $0 += rebalance.partitions } }
                }
                conf.rebalance.onRevoked = { rebalance in
                    let revoked = Set(rebalance.partitions)
                    let stillRunning = running.withLock { $0.filter { $0.value > 0 && revoked.contains(TopicPartition(topic, Int32($0.key.prefix { $0 != "/" }) ?? -1)) }.count }
                    runningAtRevoke.withLock { $0.append(stillRunning) }
                }
            }
        }
        let first = try ProcessingLoop(broker: broker, group: member("first"), conf: conf, handler: handler(.milliseconds(60)))
        loops.withLock { $0.append(first) }
        let firstRun = Task { try await first.run() }
        let started = await eventually(within: .seconds(60)) { handled.withLock { $0.count } >= 10 }
        #expect(started)
        // A second member joins mid-stream, while the first has handlers running.
        let second = try ProcessingLoop(broker: broker, group: member("second"), conf: conf, handler: handler(.milliseconds(5)))
        let secondRun = Task { try await second.run() }
        let all = await eventually(within: .seconds(90)) { handled.withLock { $0.count } >= 120 }
        #expect(all, "handled \(handled.withLock { $0.count }) of 120")
        // The first member handles what it was handed inside the revoke (up to the deadline), so
        // all can be handled before the rebalance ends: wait for the second member's partitions,
        // then for the group's commits to reach the end. A next owner that starts below the end
        // (a commit refused in the revoke) handles the rest again before committing it.
        let handedOver = await eventually(within: .seconds(20)) { !secondAssigned.withLock { $0.isEmpty } }
        #expect(handedOver, "the rebalance gave the second member partitions")
        let settled = await eventually(within: .seconds(10)) { (try? broker.committedOffsets(group: groupID, topics: [topic])) == end }
        let committed = try? await broker.committedOffsets(group: groupID, topics: [topic])
        #expect(settled, "committed \(String(describing: committed))")
        firstRun.cancel()
        secondRun.cancel()
        try await firstRun.value
        try await secondRun.value
        let revokes = runningAtRevoke.withLock { $0 }
        #expect(!revokes.isEmpty, "the second member's join revoked partitions")
        #expect(revokes.allSatisfy { $0 == 0 }, "handlers of revoked partitions still running when they went: \(revokes)")
        #expect(overlaps.withLock { $0 }.isEmpty, "one message handled on two members at once: \(overlaps.withLock { $0 })")
        // The embedded cluster refuses the commit made in the revoke with REBALANCE_IN_PROGRESS
        // (measured with librdkafka 2.0.2's mock and 2.16's; Kafka accepts a commit of the current
        // generation while the group prepares the rebalance), so the next owners handle again what
        // was handled since the last periodic commit (112 to 116 of the 120 in every run measured).
        // tansu takes it (OffsetCommit answered with error code 0, NONE, in librdkafka's
        // wait-unassign-call state while heartbeats get REBALANCE_IN_PROGRESS; measured with
        // librdkafka 2.16), and nothing was handled twice: against real brokers this is a hard check.
        let twice = handled.withLock { $0.filter { $0.value > 1 }.keys.sorted() }
        let refused = warnings.all.filter { $0.contains("commit before revoke failed") }
        withKnownIssue("the embedded cluster refuses commits during a rebalance", isIntermittent: true) {
            #expect(twice.count == 0, "handled twice: \(twice.prefix(10))...; commits refused in the revoke: \(refused)")
        } when: {
            !cluster.isExternal
        }
    }

    @Test("throughput grows with the concurrency limit: a handler awaiting 1 ms of real time, one partition, many keys")
    func throughputScales() async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["fast": 1])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        var rates: [Int: Double] = [:]
        for limit in [1, 8, 64] {
            let count = limit == 1 ? 300 : 3000
            let topic = "fast-\(limit)"
            try cluster.createTopic(topic, partitions: 1)
            try await broker.producer().produce(topic, partition: 0, messages: (0..<count).map { Message(key: Array("k\($0)".utf8), value: Array("v".utf8)) })
            let done = Mutex(0)
            let firstAt = Mutex<ContinuousClock.Instant?>(nil)
            var conf = ProcessingConf()
            conf.concurrency = limit
            conf.maxBufferedMessages = max(1000, limit * 4)
            let loop = try ProcessingLoop(broker: broker, group: quickGroup("rate-\(limit)", [topic]), conf: conf) { _ in
                firstAt.withLock { if $0 == nil { $0 = .now } }
                try await Task.sleep(for: .milliseconds(1))
                done.withLock { $0 += 1 }
            }
            let running = Task { try await loop.run() }
            let finished = await eventually(within: .seconds(90)) { done.withLock { $0 } >= count }
            let elapsed = ContinuousClock.now - (firstAt.withLock { $0 } ?? .now)
            running.cancel()
            try await running.value
            #expect(finished)
            rates[limit] = Double(count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
        let line = [1, 8, 64].map { "limit \($0): \(Int(rates[$0] ?? 0)) msgs/s (\(String(format: "%.1f", (rates[$0] ?? 0) / (rates[1] ?? 1))) x)" }
        FileHandle.standardError.write(Data("ProcessingLoop throughput, 1 ms real-time handler: \(line.joined(separator: ", "))\n".utf8))
        // Real time on a shared two-core machine running other suites: the bounds are loose (7.3x
        // and 23x measured with the machine otherwise busy); the table is the measurement.
        #expect((rates[8] ?? 0) > 2 * (rates[1] ?? 0), "8 handlers at once give at least a quarter of 8x")
        #expect((rates[64] ?? 0) > 2 * (rates[1] ?? 0), "64 handlers at once give more than 2x")
    }

    @Test("a handler that never returns for one key: the buffer stays bounded and other keys go on")
    func boundedMemory() async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["stuck": 1])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        // Every third message has the stuck key: its 200 later messages wait behind the first.
        try await broker.producer().produce("stuck", partition: 0, messages: (0..<600).map { index in
            Message(key: Array((index % 3 == 0 ? "stuck" : "k\(index)").utf8), value: Array(repeating: 7, count: 100))
        })
        let handled = Mutex(0)
        let most = Mutex(0)
        var conf = ProcessingConf()
        conf.concurrency = 8
        conf.maxBufferedMessages = 50
        conf.maxWaitingPerPartition = 40
        conf.revokeDeadline = .milliseconds(100)
        let loopBox = Mutex<ProcessingLoop<GroupConsumer>?>(nil)
        let loop = try ProcessingLoop(broker: broker, group: quickGroup("stuck", ["stuck"]), conf: conf) { message in
            most.withLock { $0 = max($0, loopBox.withLock { $0?.buffered ?? 0 }) }
            if message.key == Array("stuck".utf8) { try await Task.sleep(for: .seconds(3600)) }
            handled.withLock { $0 += 1 }
        }
        loopBox.withLock { $0 = loop }
        let running = Task { try await loop.run() }
        // Others go on until the stuck key's waiting messages fill the buffer; nothing more is read then.
        let progressed = await eventually(within: .seconds(60)) { handled.withLock { $0 } >= 20 }
        #expect(progressed, "other keys handled: \(handled.withLock { $0 })")
        let settled = await eventually(within: .seconds(30)) { loop.buffered >= 40 }
        #expect(settled)
        #expect(loop.buffered <= 50, "buffered \(loop.buffered) of at most 50")
        #expect(most.withLock { $0 } <= 50)
        running.cancel()
        try await running.value
        loopBox.withLock { $0 = nil }
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
