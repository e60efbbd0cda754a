import Foundation
import Kafka
import KafkaTest
import Testing
import KafkaTestSupport

@Suite("Service example", .ownThreads, .timeLimit(.minutes(3)))
struct ServiceExampleTests {
    /// Waits (polling another process's progress) until `done` holds or `limit` passes.
    static func eventually(_ limit: Duration, _ done: () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while !done() {
            guard ContinuousClock.now < deadline else { return false }
            try await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    /// Starts `kafka-service` (from the test bundle's directory) with `arguments`, its output discarded.
    static func startService(_ directory: URL, _ arguments: [String]) throws -> SpawnedProgram {
        try spawn(directory.appendingPathComponent("kafka-service"), arguments)
    }

    /// The input positions ("topic/partition/offset") that have a result in `output`.
    static func results(_ broker: Broker, _ output: String) throws -> [String] {
        var found: [String] = []
        for partition in 0..<2 {
            var conf = ConsumerConf(topic: output, partition: Int32(partition))
            conf.retryLimit = 2
            let consumer = try broker.consumer(conf)
            defer { consumer.close() }
            while let message = try? consumer.consume() {
                let text = String(decoding: message.value ?? [], as: UTF8.self)
                if let colon = text.firstIndex(of: ":") { found.append(String(text[..<colon])) }
            }
        }
        return found
    }

    /// How a run of the service is stopped mid-stream.
    enum Stop: Sendable, CustomTestStringConvertible {
        case sigterm([String])
        case sigkill([String])

        var extra: [String] {
            switch self {
            case .sigterm(let extra), .sigkill(let extra): extra
            }
        }

        var testDescription: String {
            switch self {
            case .sigterm(let extra): "SIGTERM \(extra.joined(separator: " "))"
            case .sigkill(let extra): "SIGKILL \(extra.joined(separator: " "))"
            }
        }
    }

    @Test(
        "stopped mid-stream (SIGTERM: a clean exit; SIGKILL: a crash), every committed input has its result, and a restart loses nothing",
        arguments: [Stop.sigterm([]), .sigterm(["--concurrency", "8"]), .sigkill(["--concurrency", "8"])]
    )
    func gracefulShutdown(stop: Stop) async throws {
        let extra = stop.extra
        let cluster = try MockCluster(brokers: 1, topics: ["in": 2, "out": 2])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        let producer = try broker.producer()
        // Enough input that SIGTERM, sent once 20 results exist, lands mid-stream however fast the
        // service runs (an async commit holds no thread now, so it outran 3,000 inputs).
        let perPartition = 10_000
        let total = 2 * perPartition
        for partition in 0..<2 {
            try await producer.produce("in", partition: Int32(partition), messages: (0..<perPartition).map { Message(value: "v\($0)") })
        }
        let directory = try #require(Bundle.main.executableURL?.deletingLastPathComponent())
        let arguments = ["--brokers", cluster.bootstrapServers, "--input", "in", "--output", "out", "--group", "svc", "--session-timeout", "4000"] + extra
        let first = try Self.startService(directory, arguments)
        let started = try await Self.eventually(.seconds(60)) {
            ((try? broker.offsetLatest("out", partition: 0)) ?? 0) + ((try? broker.offsetLatest("out", partition: 1)) ?? 0) >= 20
        }
        #expect(started, "the service produced no results within 60 s")
        var crashed = false
        if case .sigkill = stop { crashed = true }
        kill(first.processIdentifier, crashed ? SIGKILL : SIGTERM)
        var status: Int32 = 0
        waitpid(first.processIdentifier, &status, 0)
        if !crashed { #expect(status == 0, "kafka-service exited with status \(status)") }
        // Nothing committed that was not processed: every input below a committed offset has a result.
        let processed = Set(try Self.results(broker, "out"))
        let coordinator = try broker.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: "svc"))
        var committedTotal = 0
        for partition in 0..<2 {
            let committed = try await coordinator.offset("in", partition: Int32(partition)).offset
            committedTotal += Int(max(0, committed))
            for offset in 0..<max(0, committed) {
                #expect(processed.contains("in/\(partition)/\(offset)"), "in/\(partition)/\(offset) was committed without a result")
            }
        }
        // A crash may come before the first periodic commit; a clean exit commits what was handled.
        #expect((crashed || committedTotal > 0) && committedTotal < total, "committed \(committedTotal) of \(total) before the stop")
        // A restart picks up after the commits: every input ends up with a result.
        let second = try Self.startService(directory, arguments)
        defer {
            kill(second.processIdentifier, SIGTERM)
            var ignored: Int32 = 0
            waitpid(second.processIdentifier, &ignored, 0)
        }
        let complete = try await Self.eventually(.seconds(90)) { Set((try? Self.results(broker, "out")) ?? []).count == total }
        let covered = Set(try Self.results(broker, "out")).count
        #expect(complete, "after the restart \(covered) of \(total) inputs have results")
    }

    @Test("--exactly-once: SIGTERM mid-stream aborts the batch in hand and exits cleanly; a restart under the same transactional id gives every input a result")
    func exactlyOnceShutdown() async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["ein": 2, "eout": 2])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        let producer = try broker.producer()
        let perPartition = 1_000
        let total = 2 * perPartition
        for partition in 0..<2 {
            try await producer.produce("ein", partition: Int32(partition), messages: (0..<perPartition).map { Message(value: "v\($0)") })
        }
        let directory = try #require(Bundle.main.executableURL?.deletingLastPathComponent())
        let arguments = [
            "--brokers", cluster.bootstrapServers, "--input", "ein", "--output", "eout", "--group", "esvc", "--session-timeout", "4000",
            "--exactly-once", "--transactional-id", "esvc-0",
        ]
        let first = try Self.startService(directory, arguments)
        let started = try await Self.eventually(.seconds(60)) {
            ((try? broker.offsetLatest("eout", partition: 0)) ?? 0) + ((try? broker.offsetLatest("eout", partition: 1)) ?? 0) >= 20
        }
        #expect(started, "the service produced no results within 60 s")
        kill(first.processIdentifier, SIGTERM)
        var status: Int32 = 0
        waitpid(first.processIdentifier, &status, 0)
        #expect(status == 0, "kafka-service --exactly-once exited with status \(status)")
        // The embedded cluster stores no offsets sent in a transaction and hides no aborted
        // result, so the restart reads from the start: every input gets a result (exactly one
        // committed result per input is shown on the in-memory tier, which honours both).
        let second = try Self.startService(directory, arguments)
        defer {
            kill(second.processIdentifier, SIGTERM)
            var ignored: Int32 = 0
            waitpid(second.processIdentifier, &ignored, 0)
        }
        let complete = try await Self.eventually(.seconds(90)) { Set((try? Self.results(broker, "eout")) ?? []).count == total }
        let covered = Set(try Self.results(broker, "eout")).count
        #expect(complete, "after the restart \(covered) of \(total) inputs have results")
    }
}
