import Foundation
import Kafka
import KafkaTest
import KafkaTestSupport
import Testing

@Suite("Reliability", .ownThreads)
struct ReliabilityTests {
    @Test("a dial of a refusing port with the default BrokerConf fails within dialRetryLimit × dialRetryWait + 1 s", .timeLimit(.minutes(1)))
    func refusedDialIsPrompt() throws {
        let conf = BrokerConf()
        let start = ContinuousClock.now
        let error = #expect(throws: KafkaError.self) { try Broker.dial(["127.0.0.1:1"], conf: conf) }
        let elapsed = ContinuousClock.now - start
        // 10 × 500 ms + 1 s: every attempt ends once the address refused, as Go's dial does.
        #expect(elapsed < conf.dialRetryWait * conf.dialRetryLimit + .seconds(1), "took \(elapsed)")
        #expect(error?.description.contains("cannot connect to: [127.0.0.1:1] after 10 attempt(s)") == true)
    }

    @Test("a dial of two refusing ports ends each attempt once both refused")
    func refusedDialOfTwoAddresses() throws {
        var conf = BrokerConf()
        conf.dialRetryLimit = 3
        conf.dialRetryWait = .milliseconds(200)
        let start = ContinuousClock.now
        #expect(throws: KafkaError.self) { try Broker.dial(["127.0.0.1:1", "127.0.0.1:2"], conf: conf) }
        #expect(ContinuousClock.now - start < .seconds(3))
    }

    @Test("a dial still succeeds when the cluster answers on a later attempt")
    func dialSucceedsAfterRefusals() throws {
        let cluster = try MockCluster(brokers: 1)
        defer { cluster.close() }
        try cluster.setDown(broker: nil)
        var conf = BrokerConf()
        conf.dialRetryLimit = 40
        conf.dialRetryWait = .milliseconds(100)
        let upper = Thread {
            Thread.sleep(forTimeInterval: 0.8)
            try? cluster.setUp(broker: nil)
        }
        upper.start()
        let broker = try Broker.dial(cluster.addresses, conf: conf)
        broker.close()
    }

    @Test("a misspelt or secret property never shows its value in the error", arguments: [
        ("sasl.pasword", "hunter2"), ("ssl.key.password", "hunter2"), ("sasl.mechanisms", "hunter2"), ("my.secret.thing", "hunter2"),
        ("ssl.key.location", "/hunter2/key.pem"), ("sasl.oauthbearer.config", "principal=hunter2"),
    ])
    func secretsStayOutOfErrors(key: String, value: String) throws {
        var conf = BrokerConf()
        conf.properties[key] = value
        let error = #expect(throws: KafkaError.self) { try Broker.dial(["127.0.0.1:1"], conf: conf) }
        #expect(error?.description.contains("hunter2") == false, "\(String(describing: error))")
    }

    @Test("a bad value of an ordinary property is still quoted, so it can be fixed")
    func ordinaryValuesAreQuoted() throws {
        var conf = BrokerConf()
        conf.properties["compression.codec"] = "brotli"
        let error = #expect(throws: KafkaError.self) { try Broker.dial(["127.0.0.1:1"], conf: conf) }
        #expect(error?.description.contains("brotli") == true)
    }

    @Test("error texts read as one sentence: no librdkafka internal names, no repetition")
    func errorTextsAreClean() throws {
        let cluster = try TestCluster(brokers: 1)
        let topic = try cluster.topic()
        let broker = try cluster.dial()
        defer { broker.close() }
        try broker.producer().produce(topic, partition: 0, messages: [Message(value: "x")])
        var conf = ConsumerConf(topic: topic, partition: 0)
        conf.startOffset = .offset(50)
        conf.retryLimit = 2
        conf.retryErrLimit = 1
        let consumer = try broker.consumer(conf)
        let error = #expect(throws: KafkaError.self) { try consumer.consume() }
        let text = error?.description ?? ""
        #expect(!text.contains("Broker:") && !text.contains("_"), "\(text)")
        withKnownIssue("tansu answers a fetch beyond the log without OFFSET_OUT_OF_RANGE", isIntermittent: true) {
            #expect(error?.errorCode == .offsetOutOfRange)
            #expect(text.components(separatedBy: "Offset out of range").count - 1 == 1, "\(text)")
        } when: { cluster.isTansu }
        let refused = #expect(throws: KafkaError.self) {
            var dialConf = BrokerConf()
            dialConf.dialRetryLimit = 1
            _ = try Broker.dial(["127.0.0.1:1"], conf: dialConf)
        }
        #expect(refused?.description.contains("_TRANSPORT") == false && refused?.description.contains("_ALL_BROKERS") == false)
    }

    @Test("with every broker down a produce fails within requestTimeout + the leader budget + 1 s", .timeLimit(.minutes(1)))
    func produceWithBrokersDownIsBounded() throws {
        let cluster = try MockCluster(brokers: 1)
        defer { cluster.close() }
        try cluster.createTopic("down", partitions: 1)
        let broker = try Broker.dial(cluster.addresses) {
            $0.leaderRetryLimit = 2
            $0.leaderRetryWait = .milliseconds(100)
        }
        defer { broker.close() }
        var conf = ProducerConf()
        conf.requestTimeout = .seconds(1)
        let producer = try broker.producer(conf)
        try producer.produce("down", partition: 0, messages: [Message(value: "up")])
        try cluster.setDown(broker: nil)
        let start = ContinuousClock.now
        #expect(throws: KafkaError.self) { try producer.produce("down", partition: 0, messages: [Message(value: "lost")]) }
        let elapsed = ContinuousClock.now - start
        #expect(elapsed < .milliseconds(1200) + .seconds(1) + .milliseconds(800), "took \(elapsed)")
    }
}

extension ReliabilityTests {
    @Test(
        "with every broker down and the default leader budget, a produce fails within its documented bound, round after round",
        .timeLimit(.minutes(2))
    )
    func produceWithBrokersDownDefaultBudget() async throws {
        // requestTimeout 1 s + leaderRetryLimit 10 × leaderRetryWait 500 ms + 1 s = 7 s. Before every
        // handle capped librdkafka's reconnect backoff, its 10 s backoff also paced the check of
        // message timeouts: 7.4 to 12.1 s were measured.
        let bound = Duration.seconds(7)
        for round in 0..<3 {
            let elapsed = try await onThread { () -> Duration in
                let cluster = try MockCluster(brokers: 3, topics: ["down": 3])
                defer { cluster.close() }
                let broker = try Broker.dial(cluster.addresses)
                defer { broker.close() }
                var conf = ProducerConf()
                conf.requestTimeout = .seconds(1)
                conf.retryLimit = 1
                let producer = try broker.producer(conf)
                try producer.produce("down", partition: 0, messages: [Message(value: "up")])
                try cluster.setDown(broker: nil)
                let start = ContinuousClock.now
                #expect(throws: KafkaError.self) { try producer.produce("down", partition: 0, messages: [Message(value: "lost")]) }
                return ContinuousClock.now - start
            }
            #expect(elapsed < bound, "round \(round): took \(elapsed), bound \(bound)")
        }
    }
}

extension Broker {
    /// Dials with the default conf changed by `configure`.
    static func dial(_ addresses: [String], _ configure: (inout BrokerConf) -> Void) throws -> Broker {
        var conf = BrokerConf()
        configure(&conf)
        return try Broker.dial(addresses, conf: conf)
    }
}
