import Foundation
import Kafka
import KafkaEmbedded

/// What the example programs share: choosing between a real cluster and an
/// embedded one, and turning errors into one clear line and exit status 1.
public enum ExampleSupport {
    /// Writes `line` to standard error.
    public static func note(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// Runs `body`; any error becomes one line on standard error and exit status 1.
    public static func run(_ program: String, _ body: () async throws -> Void) async {
        do {
            try await body()
        } catch {
            note("\(program): \(error)")
            exit(1)
        }
    }

    /// The broker addresses to use: `brokers` split at commas, or a fresh
    /// embedded cluster (kept alive in `embedded`) with `topic` created.
    public static func addresses(
        brokers: String?, topic: String, partitions: Int, program: String, embedded: inout MockCluster?
    ) throws -> [String] {
        if let brokers {
            let list = brokers.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !list.isEmpty else { throw KafkaError.invalidArgument("--brokers is empty; give host:port[,host:port...]") }
            return list
        }
        let cluster = try MockCluster(brokers: 1)
        try cluster.createTopic(topic, partitions: partitions)
        embedded = cluster
        note("\(program): no --brokers given, using an embedded cluster at \(cluster.bootstrapServers) (topic \(topic), \(partitions) partitions)")
        return cluster.addresses
    }

    /// Dials with a short retry budget, so an unreachable address fails in seconds, with the
    /// TLS and SASL of `security` (default none).
    public static func dial(_ addresses: [String], clientID: String, security: SecurityOptions? = nil) throws -> Broker {
        var conf = BrokerConf(clientID: clientID)
        try security?.apply(to: &conf)
        conf.dialRetryLimit = 3
        conf.dialRetryWait = .milliseconds(200)
        conf.dialTimeout = .seconds(3)
        conf.leaderRetryLimit = 3
        conf.leaderRetryWait = .milliseconds(200)
        return try Broker.dial(addresses, conf: conf)
    }

    /// Whether standard error is a terminal, so progress lines make sense.
    public static var stderrIsTerminal: Bool { isatty(2) == 1 }
}

/// Prints "N messages, R msg/s" on standard error at most every half second
/// when attached to a terminal, and a summary line at the end whatever the output.
public final class Progress {
    private let label: String
    private let start = ContinuousClock.now
    private var lastPrint = ContinuousClock.now
    public private(set) var count = 0
    public private(set) var bytes = 0

    /// Creates a progress reporter for `label` ("produced", "consumed").
    public init(_ label: String) {
        self.label = label
    }

    /// Counts `messages` more messages of `bytes` bytes in total.
    public func add(_ messages: Int, bytes: Int) {
        count += messages
        self.bytes += bytes
        guard ExampleSupport.stderrIsTerminal, ContinuousClock.now - lastPrint > .milliseconds(500) else { return }
        lastPrint = ContinuousClock.now
        FileHandle.standardError.write(Data("\r\(label) \(count) messages, \(rate) msg/s   ".utf8))
    }

    private var rate: Int {
        let seconds = Double((ContinuousClock.now - start).components.attoseconds) / 1e18 + Double((ContinuousClock.now - start).components.seconds)
        return seconds > 0 ? Int(Double(count) / seconds) : 0
    }

    /// Prints the summary line.
    public func finish(_ suffix: String = "") {
        if ExampleSupport.stderrIsTerminal { FileHandle.standardError.write(Data("\r".utf8)) }
        let elapsed = ContinuousClock.now - start
        let millis = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        ExampleSupport.note("\(label) \(count) messages (\(bytes) bytes) in \(millis) ms, \(rate) msg/s\(suffix)")
    }
}
