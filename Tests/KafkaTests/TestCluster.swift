import Foundation
import Kafka
import KafkaTest
import Testing

/// The cluster an integration test runs against: a fresh embedded
/// ``MockCluster`` of three brokers by default, or the brokers named by
/// `KAFKA_BROKERS=host:port,...`.
final class TestCluster: Sendable {
    let addresses: [String]
    let mock: MockCluster?

    init(brokers: Int = 3) throws {
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

    /// Creates a topic with a name unique to this run.
    func topic(_ prefix: String = "t", partitions: Int = 1) throws -> String {
        let name = "\(prefix)-\(UUID().uuidString.prefix(8))"
        if let mock {
            try mock.createTopic(name, partitions: partitions, replicationFactor: min(mock.brokerCount, 3))
        } else {
            try TopicAdmin.create(name, partitions: partitions, replicationFactor: 1, brokers: addresses)
        }
        return name
    }

    /// Dials the cluster with a configuration suited to tests: short waits.
    func dial(_ configure: (inout BrokerConf) -> Void = { _ in }) throws -> Broker {
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

func values(_ range: Range<Int>, prefix: String = "m") -> [Message] {
    range.map { Message(key: "k\($0)", value: "\(prefix)\($0)") }
}

extension Message {
    var text: String? { value.map { String(decoding: $0, as: UTF8.self) } }
}
