import Foundation
import Kafka
import KafkaTest
import KafkaTestSupport
import Testing

/// `kafka-admin` against the embedded cluster (what librdkafka 2.0.2's mock serves) and on its own
/// embedded cluster when run without `--brokers`.
@Suite("kafka-admin", .ownThreads)
struct AdminProgramTests {
    @Test("against kafka-serve: topics list and describe, groups lag and reset-offsets (a dry run prints the plan, --execute commits it)")
    func topicsAndGroups() async throws {
        // kafka-serve in a process of its own, as an operator would run the two programs.
        let directory = try #require(Bundle.main.executableURL?.deletingLastPathComponent())
        let addressFile = FileManager.default.temporaryDirectory.appendingPathComponent("admin-serve-\(UUID().uuidString)").path
        let topic = "ops"
        let server = try BackgroundServer(directory.appendingPathComponent("kafka-serve"), [
            "--topic", "\(topic):2", "--seconds", "300", "--address-file", addressFile,
        ])
        defer { server.stop() }
        let deadline = ContinuousClock.now + .seconds(30)
        while (try? String(contentsOfFile: addressFile, encoding: .utf8))?.isEmpty ?? true {
            guard ContinuousClock.now < deadline else { Issue.record("kafka-serve wrote no address within 30 s"); return }
            try await Task.sleep(for: .milliseconds(50))  // polling for a file another process writes
        }
        let brokers = try String(contentsOfFile: addressFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        try await onThread {
            let broker = try Broker.dial(brokers.split(separator: ",").map(String.init))
            defer { broker.close() }
            try broker.producer().produce(topic, partition: 0, messages: values(0..<4))
            let group = "admin-cli-\(UUID().uuidString.prefix(6))"
            try broker.resetOffsets(group: group, to: [TopicPartition(topic, 0): 1])

            let listed = try runExample("kafka-admin", ["topics", "list", "--brokers", brokers, "--format", "json"])
            #expect(listed.status == 0, "\(listed.errors)")
            let names = try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [String]
            #expect(names?.contains(topic) == true, "\(listed.output)")

            let described = try runExample("kafka-admin", ["topics", "describe", "--brokers", brokers, "--topic", topic])
            #expect(described.status == 0, "\(described.errors)")
            #expect(described.output.hasPrefix("topic \(topic) partitions 2\n"), "\(described.output)")

            let lag = try runExample("kafka-admin", ["groups", "lag", "--brokers", brokers, "--group", group, "--topic", topic])
            #expect(lag.status == 0, "\(lag.errors)")
            #expect(lag.output.contains("\(topic)/0 committed 1 end 4 lag 3"), "\(lag.output)")

            let dryRun = try runExample("kafka-admin", ["groups", "reset-offsets", "--brokers", brokers, "--group", group, "--topic", topic, "--to-latest"])
            #expect(dryRun.status == 0, "\(dryRun.errors)")
            #expect(dryRun.output.contains("\(topic)/0 1 -> 4"), "\(dryRun.output)")
            #expect(dryRun.output.contains("dry run"))
            #expect(try broker.committedOffsets(group: group, topics: [topic])[TopicPartition(topic, 0)] == 1, "a dry run commits nothing")

            let executed = try runExample("kafka-admin", ["groups", "reset-offsets", "--brokers", brokers, "--group", group, "--topic", topic,
                                                          "--to-earliest", "--execute", "--format", "json"])
            #expect(executed.status == 0, "\(executed.errors)")
            let plan = try JSONSerialization.jsonObject(with: Data(executed.output.utf8)) as? [String: Any]
            #expect(plan?["executed"] as? Bool == true)
            #expect(try broker.committedOffsets(group: group, topics: [topic]) == [TopicPartition(topic, 0): 0, TopicPartition(topic, 1): 0])
        }
    }

    @Test("without --brokers it serves an embedded cluster and says so; errors are one line and exit status 1")
    func embeddedAndErrors() async throws {
        try await onThread {
            let cluster = try runExample("kafka-admin", ["cluster"])
            #expect(cluster.status == 0, "\(cluster.errors)")
            #expect(cluster.errors.contains("using an embedded cluster"))
            #expect(cluster.output.contains("broker 1 127.0.0.1:"), "\(cluster.output)")

            let refused = try runExample("kafka-admin", ["topics", "create", "--topic", "none", "--partitions", "0"])
            #expect(refused.status == 1)
            let errorLines = refused.errors.split(separator: "\n").filter { !$0.contains("using an embedded cluster") }
            #expect(errorLines == ["kafka-admin: none: invalid argument: topic none needs at least 1 partition, not 0"])

            let unserved = try runExample("kafka-admin", ["groups", "delete", "--group", "g"])
            #expect(unserved.status == 1)
            #expect(unserved.errors.contains("does not serve DeleteGroups"))

            let usage = try runExample("kafka-admin", ["groups", "reset-offsets", "--group", "g", "--topic", "t"])
            #expect(usage.status != 0)
            #expect(usage.errors.contains("give exactly one of --to-earliest, --to-latest, --to-datetime, --to-offset"))
        }
    }
}
