import Foundation
import Kafka
import KafkaTest
import Testing

/// Runs `script` with Debian's /usr/bin/python3 (where python3-kafka lives) and returns its standard output.
func runPython(_ script: String, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    process.arguments = ["-c", script] + arguments
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    let errorData = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw KafkaError.invalidArgument("python exited \(process.terminationStatus): \(String(decoding: errorData, as: UTF8.self))")
    }
    return String(decoding: data, as: UTF8.self)
}

@Suite("Independent peers")
struct PeerTests {
    static let readScript = """
        import sys
        from kafka import KafkaConsumer, TopicPartition
        c = KafkaConsumer(bootstrap_servers=sys.argv[1].split(','), enable_auto_commit=False,
                          consumer_timeout_ms=3000, api_version=(2, 0, 0))
        tp = TopicPartition(sys.argv[2], 0)
        c.assign([tp]); c.seek_to_beginning(tp)
        for m in c:
            key = 'None' if m.key is None else m.key.decode()
            value = 'None' if m.value is None else m.value.decode()
            headers = ';'.join(k + '=' + ('None' if v is None else v.decode()) for k, v in m.headers)
            print(m.offset, key, value, headers, sep='|')
        """

    static let committedScript = """
        import sys
        from kafka import KafkaConsumer, TopicPartition
        c = KafkaConsumer(bootstrap_servers=sys.argv[1].split(','), group_id=sys.argv[3], enable_auto_commit=False,
                          api_version=(2, 0, 0))
        print(c.committed(TopicPartition(sys.argv[2], 0)))
        """

    @Test("kafka-python reads what the Swift producer wrote, keys, nil values and headers included")
    func kafkaPythonReadsSwift() throws {
        let cluster = try TestCluster()
        let topic = try cluster.topic()
        let broker = try cluster.dial()
        defer { broker.close() }
        try broker.producer().produce(topic, partition: 0, messages: [
            Message(key: "k0", value: "hello"),
            Message(key: nil, value: nil),
            Message(key: "k2", value: "with header", headers: [Header(key: "trace", value: Array("abc".utf8))]),
        ])
        var compressed = ProducerConf()
        compressed.compression = .gzip
        try broker.producer(compressed).produce(topic, partition: 0, messages: [Message(key: "k3", value: "gzipped")])
        let lines = try runPython(Self.readScript, [cluster.addresses.joined(separator: ","), topic]).split(separator: "\n")
        #expect(lines == ["0|k0|hello|", "1|None|None|", "2|k2|with header|trace=abc", "3|k3|gzipped|"])
    }

    @Test("kafka-python sees the offset the Swift coordinator committed for the group")
    func kafkaPythonSeesCommit() throws {
        let cluster = try TestCluster()
        let topic = try cluster.topic()
        let broker = try cluster.dial()
        defer { broker.close() }
        let group = "peer-\(UUID().uuidString.prefix(8))"
        try broker.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: group)).commit(topic, partition: 0, offset: 42)
        let output = try runPython(Self.committedScript, [cluster.addresses.joined(separator: ","), topic, group])
        #expect(output.trimmingCharacters(in: .whitespacesAndNewlines) == "42")
    }
}
