import Foundation
import Kafka
import KafkaEmbedded

/// The cluster an integration test runs against: a fresh embedded
/// ``MockCluster`` (three brokers by default), or the real brokers named by the
/// environment variable `KAFKA_BROKERS=host:port,...` when it is set.
///
/// Topics get names unique to the run, so tests can share a real cluster.
/// Part of this repository's tests only (the `KafkaTestSupport` target, in no product).
public final class IntegrationCluster: Sendable {
    /// The addresses to dial.
    public let addresses: [String]
    /// The embedded cluster, or `nil` when running against `KAFKA_BROKERS`.
    public let mock: MockCluster?

    /// Starts an embedded cluster of `brokers` brokers, unless `KAFKA_BROKERS` is set.
    public init(brokers: Int = 3) throws {
        if let external = ProcessInfo.processInfo.environment["KAFKA_BROKERS"], !external.isEmpty {
            addresses = external.split(separator: ",").map(String.init)
            mock = nil
        } else {
            let mock = try MockCluster(brokers: brokers)
            self.mock = mock
            addresses = mock.addresses
        }
    }

    deinit {
        mock?.close()
    }

    /// Whether the tests run against real brokers.
    public var isExternal: Bool { mock == nil }

    /// What `KAFKA_BROKER_KIND` says the external brokers are (e.g. "tansu"), so tests can mark
    /// that broker's known limits; `nil` for the embedded cluster or when unset.
    public var brokerKind: String? {
        guard isExternal else { return nil }
        return ProcessInfo.processInfo.environment["KAFKA_BROKER_KIND"].flatMap { $0.isEmpty ? nil : $0.lowercased() }
    }

    /// Whether the external brokers are tansu (`KAFKA_BROKER_KIND=tansu`).
    public var isTansu: Bool { brokerKind == "tansu" }

    /// Creates a topic named `prefix-<random>` with `partitions` partitions and returns its name.
    public func topic(_ prefix: String = "t", partitions: Int = 1) throws -> String {
        let name = "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
        if let mock {
            try mock.createTopic(name, partitions: partitions, replicationFactor: min(mock.brokerCount, 3))
        } else {
            let broker = try dial()
            defer { broker.close() }
            try broker.createTopic(name, partitions: Int32(partitions), replicationFactor: 1)
        }
        return name
    }

    /// Dials the cluster with short retry waits suited to tests, then applies `configure`.
    public func dial(_ configure: (inout BrokerConf) -> Void = { _ in }) throws -> Broker {
        var conf = BrokerConf(clientID: "swift-kafka-tests")
        conf.dialRetryLimit = 3
        conf.dialRetryWait = .milliseconds(100)
        conf.leaderRetryLimit = 3
        conf.leaderRetryWait = .milliseconds(50)
        conf.retryErrWait = .milliseconds(50)
        configure(&conf)
        return try Broker.dial(addresses, conf: conf)
    }
}
