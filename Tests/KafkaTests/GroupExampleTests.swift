import Foundation
import Kafka
import KafkaTest
import Testing
import KafkaTestSupport

/// A kafka-consume process whose standard output and error go to files.
final class ConsumerProcess {
    let program: SpawnedProgram
    let output: URL
    let errors: URL

    init(_ arguments: [String]) throws {
        let directory = try #require(Bundle.main.executableURL?.deletingLastPathComponent())
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("member-\(UUID().uuidString.prefix(8))")
        output = scratch.appendingPathExtension("out")
        errors = scratch.appendingPathExtension("err")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        let outputFile = try FileHandle(forWritingTo: output)
        let errorFile = try FileHandle(forWritingTo: errors)
        defer {
            try? outputFile.close()
            try? errorFile.close()
        }
        program = try spawn(directory.appendingPathComponent("kafka-consume"), arguments, standardOutput: outputFile, standardError: errorFile)
    }

    var lines: [String] { Self.text(of: output).split(separator: "\n").map(String.init) }
    var log: String { Self.text(of: errors) }

    /// The file's text, read through a `FileHandle`. Not `String(contentsOf:)` or
    /// `Data(contentsOf:)`: with Swift 6.3.1, LeakSanitizer finds the buffer they read a file
    /// that is still being written into (4 KiB, and more as it grows) leaked on every call.
    private static func text(of file: URL) -> String {
        guard let handle = try? FileHandle(forReadingFrom: file) else { return "" }
        defer { try? handle.close() }
        return String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
    }

    func stop(_ signal: Int32 = SIGTERM) -> Int32 {
        kill(program.processIdentifier, signal)
        var status: Int32 = 0
        waitpid(program.processIdentifier, &status, 0)
        return status
    }
}

/// Waits (polling other processes' files) until `done` holds or `limit` passes.
func eventually(_ limit: Duration, _ done: () -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + limit
    while !done() {
        guard ContinuousClock.now < deadline else { return false }
        try await Task.sleep(for: .milliseconds(100))
    }
    return true
}

@Suite("Group example", .ownThreads, .timeLimit(.minutes(5)))
struct GroupExampleTests {
    /// A member's partitions now, from its "assigned" and "revoked" lines in order (incremental
    /// under cooperative-sticky, where a rebalance may also assign nothing new).
    static func assignment(_ log: String) -> Set<Substring> {
        var owned: Set<Substring> = []
        for line in log.split(separator: "\n") {
            let words = line.split(separator: " ")
            guard words.count >= 2 else { continue }
            if words[1] == "assigned" { owned.formUnion(words.dropFirst(2)) }
            if words[1] == "revoked" { owned.subtract(words.dropFirst(2)) }
        }
        return owned
    }

    @Test("two kafka-consume --group processes split a 4-partition topic, read every message once, and the survivor takes over after SIGTERM")
    func twoMembersThenTakeover() async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["members": 4])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        let arguments = ["--brokers", cluster.bootstrapServers, "--topic", "members", "--group", "example-group",
                         "--retry-limit=-1", "--session-timeout", "4000"]
        let first = try ConsumerProcess(arguments)
        let second = try ConsumerProcess(arguments)
        var secondStopped = false
        defer {
            _ = first.stop(SIGKILL)
            if !secondStopped { _ = second.stop(SIGKILL) }
        }
        // The embedded coordinator runs in this (busy) test process; under the full suite's load its
        // cooperative rebalances have taken over a minute to settle, alone about 5 s.
        let split = try await eventually(.seconds(150)) {
            Self.assignment(first.log).count == 2 && Self.assignment(second.log).count == 2
        }
        #expect(split, "members did not settle on two partitions each: \(first.log) | \(second.log)")
        let producer = try broker.producer()
        for partition in 0..<4 {
            try await producer.produce("members", partition: Int32(partition), messages: (0..<10).map { Message(value: "a\(partition)-\($0)") })
        }
        #expect(try await eventually(.seconds(30)) { first.lines.count + second.lines.count >= 40 })
        #expect(first.lines.count == 20 && second.lines.count == 20, "\(first.lines.count) + \(second.lines.count)")
        #expect(Set(first.lines + second.lines).count == 40)
        let status = second.stop(SIGTERM)
        secondStopped = true
        #expect(status == 0, "kafka-consume exited with \(status): \(second.log)")
        for partition in 0..<4 {
            try await producer.produce("members", partition: Int32(partition), messages: (0..<10).map { Message(value: "b\(partition)-\($0)") })
        }
        #expect(try await eventually(.seconds(60)) { first.lines.count + second.lines.count >= 80 }, "\(first.log)")
        let all = first.lines + second.lines
        #expect(all.count == 80, "read \(all.count) lines: the survivor re-read or missed messages; first \(first.lines); second \(second.lines); log \(first.log)")
        #expect(Set(all).count == 80)
    }
}
