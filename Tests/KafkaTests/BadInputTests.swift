import Kafka
import KafkaTest
import KafkaTestSupport
import Testing

/// One bad call: what it does, and a word its error message must contain.
struct BadCall: CustomTestStringConvertible, Sendable {
    let name: String
    let mentions: String
    let call: @Sendable (Broker, String) throws -> Void
    var testDescription: String { name }
}

@Suite("Bad input", .ownThreads)
struct BadInputTests {
    static let longName = String(repeating: "a", count: 250)

    static let calls: [BadCall] = [
        BadCall(name: "empty topic name", mentions: "empty") { broker, _ in try broker.producer().produce("", partition: 0, messages: values(0..<1)) },
        BadCall(name: "illegal character in topic", mentions: "illegal") { broker, _ in try broker.producer().produce("bad topic!", partition: 0, messages: values(0..<1)) },
        BadCall(name: "topic name over 249 characters", mentions: "249") { broker, _ in try broker.producer().produce(longName, partition: 0, messages: values(0..<1)) },
        BadCall(name: "negative partition", mentions: "negative") { broker, topic in try broker.producer().produce(topic, partition: -1, messages: values(0..<1)) },
        BadCall(name: "partition that does not exist", mentions: "does not exist") { broker, topic in try broker.producer().produce(topic, partition: 9, messages: values(0..<1)) },
        BadCall(name: "unknown topic", mentions: "not found") { broker, _ in try broker.producer().produce("unknown-topic", partition: 0, messages: values(0..<1)) },
        BadCall(name: "empty message list", mentions: "no messages") { broker, topic in try broker.producer().produce(topic, partition: 0, messages: []) },
        BadCall(name: "message over message.max.bytes", mentions: "message.max.bytes") { broker, topic in
            try broker.producer().produce(topic, partition: 0, messages: [Message(value: "ok"), Message(value: [UInt8](repeating: 1, count: 1_100_000))])
        },
        BadCall(name: "unknown producer property", mentions: "No such configuration property") { broker, _ in
            var conf = ProducerConf()
            conf.properties["no.such.thing"] = "1"
            _ = try broker.producer(conf)
        },
        BadCall(name: "bad producer property value", mentions: "compression.codec") { broker, _ in
            var conf = ProducerConf()
            conf.properties["compression.codec"] = "brotli"
            _ = try broker.producer(conf)
        },
        BadCall(name: "producer retry limit 0", mentions: "retryLimit") { broker, _ in
            var conf = ProducerConf()
            conf.retryLimit = 0
            _ = try broker.producer(conf)
        },
        BadCall(name: "consumer retry limit -2", mentions: "retryLimit") { broker, topic in
            var conf = ConsumerConf(topic: topic, partition: 0)
            conf.retryLimit = -2
            _ = try broker.consumer(conf)
        },
        BadCall(name: "consumer error limit 0", mentions: "retryErrLimit") { broker, topic in
            var conf = ConsumerConf(topic: topic, partition: 0)
            conf.retryErrLimit = 0
            _ = try broker.consumer(conf)
        },
        BadCall(name: "negative explicit start offset", mentions: "start offset") { broker, topic in
            var conf = ConsumerConf(topic: topic, partition: 0)
            conf.startOffset = .offset(-3)
            _ = try broker.consumer(conf)
        },
        BadCall(name: "watermark of a missing partition", mentions: "does not exist") { broker, topic in _ = try broker.offsetLatest(topic, partition: 5) },
        BadCall(name: "negative commit offset", mentions: "negative") { broker, topic in
            try broker.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: "g")).commit(topic, partition: 0, offset: -1)
        },
        BadCall(name: "header name with a NUL byte", mentions: "NUL") { broker, topic in
            try broker.producer().produce(topic, partition: 0, messages: [Message(value: "v", headers: [Header(key: "trace\0id", value: [1])])])
        },
        BadCall(name: "hash producer without key", mentions: "no key") { broker, topic in
            _ = try HashProducer(broker.producer(), partitions: 1).distribute(topic, messages: [Message(value: "v")])
        },
    ]

    @Test("each bad call throws a typed error with an actionable message and writes nothing", arguments: calls)
    func refused(bad: BadCall) throws {
        let cluster = try TestCluster()
        let topic = try cluster.topic()
        let broker = try cluster.dial { $0.leaderRetryLimit = 2; $0.leaderRetryWait = .zero }
        defer { broker.close() }
        let error = #expect(throws: KafkaError.self) { try bad.call(broker, topic) }
        #expect(error?.description.contains(bad.mentions) == true, "\(error?.description ?? "no error")")
        #expect(try broker.offsetLatest(topic, partition: 0) == 0)
        #expect(throws: KafkaError.self) { try broker.partitionCount("unknown-topic") }
    }
}
