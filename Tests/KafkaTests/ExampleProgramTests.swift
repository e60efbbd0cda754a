import Foundation
import Kafka
import KafkaTest
import KafkaTestSupport
import Testing

/// Runs a built example program (they sit next to the test bundle) and returns its exit status and output.
func runExample(_ name: String, _ arguments: [String], input: String? = nil) throws -> (status: Int32, output: String, errors: String) {
    let directory = try #require(Bundle.main.executableURL?.deletingLastPathComponent())
    return try run(directory.appendingPathComponent(name), arguments, input: input)
}

@Suite("Example programs", .ownThreads)
struct ExampleProgramTests {
    @Test("kafka-produce writes what kafka-consume reads back, as JSON, with offsets committed to a group")
    func produceThenConsume() throws {
        let cluster = try TestCluster()
        let topic = try cluster.topic(partitions: 2)
        let brokers = cluster.addresses.joined(separator: ",")
        let produced = try runExample("kafka-produce", ["--brokers", brokers, "--topic", topic, "--partition", "1", "--stdin", "--compression", "lz4"],
                                      input: "alpha\nbeta\ngamma\n")
        #expect(produced.status == 0, "\(produced.errors)")
        #expect(produced.errors.contains("produced 3 messages"))
        let group = "examples-\(UUID().uuidString.prefix(6))"
        let consumed = try runExample("kafka-consume", ["--brokers", brokers, "--topic", topic, "--partition", "1", "--retry-limit", "3",
                                                        "--format", "json", "--group", group])
        #expect(consumed.status == 0, "\(consumed.errors)")
        let values = consumed.output.split(separator: "\n").compactMap { line -> String? in
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return object?["value"] as? String
        }
        #expect(values == ["alpha", "beta", "gamma"])
        let broker = try cluster.dial()
        defer { broker.close() }
        #expect(try broker.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: group)).offset(topic, partition: 1).offset == 3)
    }

    @Test("the hash strategy puts each key on Go's partition")
    func hashStrategy() throws {
        let cluster = try TestCluster()
        let topic = try cluster.topic(partitions: 3)
        let result = try runExample("kafka-produce", ["--brokers", cluster.addresses.joined(separator: ","), "--topic", topic,
                                                      "--strategy", "hash", "--count", "30", "--key-prefix", "key-", "--key-count", "2"])
        #expect(result.status == 0, "\(result.errors)")
        let broker = try cluster.dial()
        defer { broker.close() }
        // key-0 hashes to partition 0 and key-1 to partition 1 of 3 (Go's vectors), 15 messages each.
        #expect(try broker.offsetLatest(topic, partition: 0) == 15)
        #expect(try broker.offsetLatest(topic, partition: 1) == 15)
        #expect(try broker.offsetLatest(topic, partition: 2) == 0)
    }

    @Test("--send places each key where Java's murmur2 puts it and awaits every receipt")
    func sendFlag() throws {
        let cluster = try TestCluster()
        let topic = try cluster.topic(partitions: 3)
        let result = try runExample("kafka-produce", ["--brokers", cluster.addresses.joined(separator: ","), "--topic", topic,
                                                      "--send", "--count", "30", "--key-prefix", "key-", "--key-count", "2"])
        #expect(result.status == 0, "\(result.errors)")
        let broker = try cluster.dial()
        defer { broker.close() }
        var expected: [Int32: Int64] = [:]
        for key in ["key-0", "key-1"] { expected[KeyPlacement.murmur2.partition(of: Array(key.utf8), partitions: 3), default: 0] += 15 }
        for partition in Int32(0)..<3 {
            #expect(try broker.offsetLatest(topic, partition: partition) == expected[partition, default: 0], "partition \(partition)")
        }
    }

    @Test("without --brokers the examples start an embedded cluster and say so in one line")
    func embeddedCluster() throws {
        let result = try runExample("kafka-produce", ["--count", "3"])
        #expect(result.status == 0, "\(result.errors)")
        #expect(result.errors.contains("no --brokers given, using an embedded cluster"))
    }

    @Test("bad flags, unknown topics and unreachable brokers end with one clear line and a non-zero exit", arguments: [
        (["--count", "-1"], "--count"),
        (["--compression", "brotli"], "--compression"),
        (["--brokers", "127.0.0.1:1", "--count", "1"], "cannot connect to: [127.0.0.1:1]"),
    ] as [([String], String)])
    func producerErrors(arguments: [String], mentions: String) throws {
        let result = try runExample("kafka-produce", arguments)
        #expect(result.status != 0)
        #expect(result.errors.contains(mentions), "\(result.errors)")
        #expect(!result.errors.contains("Fatal error"))
    }

    @Test("the consumer reports an unknown topic in one line")
    func consumerUnknownTopic() throws {
        let cluster = try TestCluster()
        let result = try runExample("kafka-consume", ["--brokers", cluster.addresses.joined(separator: ","), "--topic", "no-such-topic"])
        #expect(result.status == 1)
        #expect(result.errors.contains("no-such-topic"))
        #expect(result.errors.split(separator: "\n").count == 1)
    }

    @Test("the example programs load no test framework (no XCTest, no Swift Testing)",
          arguments: ["kafka-produce", "kafka-consume", "kafka-serve"])
    func examplesLinkNoTestFramework(program: String) throws {
        let directory = try #require(Bundle.main.executableURL?.deletingLastPathComponent())
        let libraries = try runProgram("/usr/bin/ldd", [directory.appendingPathComponent(program).path])
        #expect(libraries.contains("librdkafka"), "ldd printed no libraries: \(libraries)")
        let testLibraries = libraries.split(separator: "\n").filter { $0.contains("XCTest") || $0.contains("libTesting") }
        #expect(testLibraries.isEmpty, "\(program) loads \(testLibraries)")
    }

    @Test("TLS and SASL flags reach the connection: a TLS client meets a plaintext listener with one line of error; a SASL user without a password is refused before dialling")
    func securityFlags() async throws {
        try await onThread {
            let cluster = try TestCluster()
            guard !cluster.isExternal else { return }  // a plaintext listener is what this needs
            let topic = try cluster.topic(partitions: 1)
            let brokers = cluster.addresses.joined(separator: ",")
            let tls = try runExample("kafka-produce", ["--brokers", brokers, "--topic", topic, "--count", "1", "--tls-insecure"])
            #expect(tls.status == 1)
            let lines = tls.errors.split(separator: "\n")
            #expect(lines.count == 1 && lines.first?.contains("SSL") == true, "\(tls.errors)")
            let missing = try runExample("kafka-admin", ["topics", "list", "--brokers", brokers, "--sasl-mechanism", "PLAIN", "--sasl-username", "u",
                                                         "--sasl-password-env", "KAFKA_TEST_UNSET_PASSWORD"])
            #expect(missing.status != 0)
            #expect(missing.errors.contains("no SASL password: set KAFKA_TEST_UNSET_PASSWORD or give --sasl-password-file"))
            let noFile = try runExample("kafka-consume", ["--brokers", brokers, "--topic", topic, "--tls-ca", "/nonexistent/ca.pem"])
            #expect(noFile.status != 0)
            #expect(noFile.errors.contains("--tls-ca /nonexistent/ca.pem: no readable file there"))
        }
    }

    @Test("kafka-serve serves a cluster on a fixed port that other clients (kcat) can use, and stops by itself")
    func serve() async throws {
        let port = 20000 + Int.random(in: 0..<10000)  // below the ephemeral range the mock brokers use
        let directory = try #require(Bundle.main.executableURL?.deletingLastPathComponent())
        let addressFile = FileManager.default.temporaryDirectory.appendingPathComponent("serve-\(port)").path
        let server = try BackgroundServer(directory.appendingPathComponent("kafka-serve"), [
            "--topic", "served:2", "--port", "\(port)", "--seconds", "300", "--address-file", addressFile,
        ])
        defer { server.stop() }
        let deadline = ContinuousClock.now + .seconds(10)
        while !FileManager.default.fileExists(atPath: addressFile) {
            guard ContinuousClock.now < deadline else { Issue.record("kafka-serve wrote no address within 10 s"); return }
            try await Task.sleep(for: .milliseconds(50))  // polling for a file another process writes
        }
        #expect(try String(contentsOfFile: addressFile, encoding: .utf8) == "127.0.0.1:\(port)")
        let produced = try runExample("kafka-produce", ["--brokers", "127.0.0.1:\(port)", "--topic", "served", "--count", "2"])
        #expect(produced.status == 0, "\(produced.errors)")
        let read = try runProgram("/usr/bin/kcat", ["-b", "127.0.0.1:\(port)", "-C", "-t", "served", "-p", "0", "-e", "-q", "-f", "%s\n"])
        #expect(read == "message 0\nmessage 1\n")
    }
}
