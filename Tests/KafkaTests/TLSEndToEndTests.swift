import Foundation
import Kafka
import Testing
import KafkaTestSupport

/// Where `scripts/tls-e2e.sh` (`make test-tls`) put the TLS brokers and the certificates.
///
/// The embedded cluster speaks plaintext only, so these tests need the script: it serves
/// kafka-serve's brokers behind mutual-TLS listeners in a network namespace and runs this suite
/// inside it. Without `KAFKA_TLS_E2E_BROKERS` the suite is skipped, so `make test` does not run it.
struct TLSEndToEndEnvironment {
    /// The brokers' advertised addresses; in the namespace each is a TLS listener.
    let brokers: [String]
    /// A topic of two partitions on those brokers (librdkafka 2.0.2's embedded cluster serves no
    /// CreateTopics, so kafka-serve creates it).
    let topic: String
    /// The CA that signed the server and client certificates.
    let ca: String
    /// A CA unrelated to any certificate the listeners present.
    let otherCA: String
    /// The client certificate the listeners require (signed by ``ca``).
    let clientCertificate: String
    /// The private key of ``clientCertificate``.
    let clientKey: String

    /// Whether the script set the brokers: the suite's enabling condition.
    static var isConfigured: Bool { !(ProcessInfo.processInfo.environment["KAFKA_TLS_E2E_BROKERS"] ?? "").isEmpty }

    /// Reads every variable; a missing one fails the test by name rather than skipping it, so a
    /// script that forgot one cannot pass.
    init() throws {
        func variable(_ name: String) throws -> String {
            let value = ProcessInfo.processInfo.environment[name] ?? ""
            try #require(!value.isEmpty, "\(name) is not set: run this suite through scripts/tls-e2e.sh (make test-tls)")
            return value
        }
        brokers = try variable("KAFKA_TLS_E2E_BROKERS").split(separator: ",").map(String.init)
        topic = try variable("KAFKA_TLS_E2E_TOPIC")
        ca = try variable("KAFKA_TLS_E2E_CA")
        otherCA = try variable("KAFKA_TLS_E2E_OTHER_CA")
        clientCertificate = try variable("KAFKA_TLS_E2E_CLIENT_CERT")
        clientKey = try variable("KAFKA_TLS_E2E_CLIENT_KEY")
    }

    /// Trusts `trustRoots` and, with `clientCertificate`, presents the client certificate.
    /// Hostname verification stays on (the default): the server certificate names 127.0.0.1.
    func tls(trusting trustRoots: String, clientCertificate: Bool = true) -> TLSConfiguration {
        clientCertificate
            ? TLSConfiguration(trustRoots: .file(trustRoots), certificate: .file(self.clientCertificate), privateKey: .file(clientKey))
            : TLSConfiguration(trustRoots: .file(trustRoots))
    }

    /// Short waits, so a dial that must fail does within about `attempts × (timeout + 200 ms)`.
    func conf(_ tls: TLSConfiguration?, attempts: Int = 3, timeout: Duration = .seconds(5)) -> BrokerConf {
        var conf = BrokerConf(clientID: "swift-kafka-tls-e2e")
        conf.dialRetryLimit = attempts
        conf.dialRetryWait = .milliseconds(200)
        conf.dialTimeout = timeout
        conf.leaderRetryLimit = 5
        conf.leaderRetryWait = .milliseconds(100)
        conf.retryErrWait = .milliseconds(100)
        conf.tls = tls
        return conf
    }

    /// The error of a client that must not get through: the dial's, or, when the TLS handshake
    /// completes before the server rejects the client (TLS 1.3 checks the client certificate
    /// after the client considers the handshake done), the first request's; nil when both succeed.
    func rejection(_ conf: BrokerConf) throws -> KafkaError? {
        let broker: Broker
        do {
            broker = try Broker.dial(brokers, conf: conf)
        } catch let error as KafkaError {
            return error
        }
        defer { broker.close() }
        do {
            var producerConf = ProducerConf()
            producerConf.retryLimit = 1
            try broker.producer(producerConf).produce(topic, partition: 0, messages: values(0..<1, prefix: "rejected"))
        } catch let error as KafkaError {
            return error
        }
        return nil
    }
}

/// TLS against real TLS listeners, end to end: the typed ``TLSConfiguration`` (trust roots, client
/// certificate and key) drives librdkafka's TLS for the dial, a producer and consumers, and the
/// failures a misconfigured client meets read as sentences about certificates.
///
/// Gating in CI through `make test-tls`; skipped by `make test` (see ``TLSEndToEndEnvironment``).
/// Serialized: the tests share two brokers and the listeners' relays, and on two cores their dial
/// timeouts are measured more faithfully one at a time.
@Suite("TLSEndToEnd: mutual TLS against brokers behind TLS listeners", .ownThreads, .serialized, .timeLimit(.minutes(2)),
       .enabled(if: TLSEndToEndEnvironment.isConfigured, "needs KAFKA_TLS_E2E_BROKERS: run make test-tls"))
struct TLSEndToEndTests {
    @Test("mutual TLS: 300 messages over two partitions are produced and read back in order with their contents")
    func roundTrip() throws {
        let environment = try TLSEndToEndEnvironment()
        let broker = try Broker.dial(environment.brokers, conf: environment.conf(environment.tls(trusting: environment.ca)))
        defer { broker.close() }
        let partitions = try broker.partitionCount(environment.topic)
        try #require(partitions == 2, "kafka-serve was to create \(environment.topic) with 2 partitions")
        let producer = try broker.producer()
        var firstOffsets: [Int32: Int64] = [:]
        for partition in 0..<partitions {
            firstOffsets[partition] = try producer.produce(
                environment.topic, partition: partition, messages: values(0..<150, prefix: "tls-p\(partition)-")
            )
        }
        for partition in 0..<partitions {
            var conf = ConsumerConf(topic: environment.topic, partition: partition)
            let first = try #require(firstOffsets[partition])
            conf.startOffset = .offset(first)
            conf.retryLimit = 40  // 41 empty fetches of 50 ms + 50 ms: a consume gives up after about 4 s
            let consumer = try broker.consumer(conf)
            for index in 0..<150 {
                let message = try consumer.consume()
                #expect(message.offset == first + Int64(index), "partition \(partition)")
                #expect(message.text == "tls-p\(partition)-\(index)", "partition \(partition)")
                #expect(message.key == Array("k\(index)".utf8), "partition \(partition)")
                if message.offset != first + Int64(index) { return }
            }
        }
    }

    @Test("only TLS answers: a plaintext client gets no metadata from the listeners")
    func plaintextIsRefused() throws {
        // Guards the round trip's meaning: were the brokers reachable in plaintext, it would prove nothing.
        let environment = try TLSEndToEndEnvironment()
        let error = #expect(throws: KafkaError.self) {
            try Broker.dial(environment.brokers, conf: environment.conf(nil, attempts: 1, timeout: .seconds(3))).close()
        }
        #expect(error?.description.hasPrefix("cannot connect to") == true, "\(String(describing: error))")
    }

    @Test("a client trusting an unrelated CA fails the dial with a readable certificate-verification error")
    func wrongCertificateAuthority() throws {
        let environment = try TLSEndToEndEnvironment()
        let conf = environment.conf(environment.tls(trusting: environment.otherCA), attempts: 2, timeout: .seconds(3))
        let error = #expect(throws: KafkaError.self) { try Broker.dial(environment.brokers, conf: conf).close() }
        let text = error?.description ?? ""
        #expect(text.lowercased().contains("certificate verify failed"), "\(text)")
        #expect(text.contains(environment.brokers[0]), "the error names the address it tried: \(text)")
    }

    @Test("a client without a client certificate is rejected by the mutual-TLS listener with a readable error")
    func missingClientCertificate() throws {
        let environment = try TLSEndToEndEnvironment()
        let conf = environment.conf(environment.tls(trusting: environment.ca, clientCertificate: false), attempts: 2, timeout: .seconds(3))
        let error = try environment.rejection(conf)
        let text = try #require(error, "the dial and a produce both succeeded: the listener let a client without a certificate through").description
        #expect(text.lowercased().contains("certificate required"), "\(text)")
    }
}
