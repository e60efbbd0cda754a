import Kafka
import KafkaEmbedded
import KafkaMetrics
import KafkaServiceLifecycle
import KafkaTest
import KafkaTracing
import Logging
import ServiceLifecycle
import Testing
import KafkaTestSupport
import Tracing

// The Swift blocks of the other modules' catalogs (KafkaEmbedded.md, KafkaMetrics.md,
// KafkaServiceLifecycle.md, KafkaTracing.md), verbatim.

func docEmbedded() throws {
    try withMockCluster(brokers: 1, topics: ["events": 4]) { cluster in
        let broker = try Broker.dial(cluster.addresses)
        defer { broker.close() }
        try broker.producer().produce("events", partition: 0, messages: [Message(value: "hello")])
    }
}

func docMetrics(addresses: [String]) async throws -> (Broker, GroupConsumer, Task<Void, Never>) {
    var brokerConf = BrokerConf(clientID: "billing")
    brokerConf.properties["statistics.interval.ms"] = "5000"
    let broker = try await Broker.dial(addresses, conf: brokerConf)

    let reporter = KafkaMetricsReporter(interval: .seconds(5))
    reporter.add(.broker(broker))                       // producers with default settings, metadata
    var groupConf = GroupConsumerConf(group: "billing", topics: ["orders"])
    reporter.instrument(&groupConf, clientID: "billing") // partitions assigned, revoked, lost
    let group = try await broker.groupConsumer(groupConf)
    reporter.watch(group, clientID: "billing")          // lag per partition, assignment size
    let metrics = Task { await reporter.run() }         // cancel at shutdown
    return (broker, group, metrics)
}

func docServiceLifecycle(logger: Logger) async throws {
    let broker = try await Broker.dial(["kafka:9092"])
    var conf = GroupConsumerConf(group: "billing", topics: ["orders"])
    conf.commitPolicy = .manual
    let orders = try await broker.groupConsumer(conf)
    let group = ServiceGroup(configuration: .init(
        services: [
            .init(service: KafkaService(broker: broker, groupConsumers: [orders])),
            .init(service: OrderProcessor(consumer: orders, producer: try broker.producer()),
                  successTerminationBehavior: .gracefullyShutdownGroup),
        ],
        gracefulShutdownSignals: [.sigterm, .sigint],
        logger: logger
    ))
    try await group.run()
}

func docTracing(broker: Broker, conf: ConsumerConf, body: [UInt8]) async throws -> Int64 {
    // Service A
    let producer = TracingProducer(try broker.producer())
    let offset = try await withSpan("POST /orders") { _ in
        try await producer.produce("orders", partition: 0, messages: [Message(value: body)])
    }

    // Service B
    let consumer = TracingConsumer(try await broker.consumer(conf), consumerGroup: "billing")
    for try await message in consumer {
        try await consumer.withConsumeSpan(message) { span in
            try await bill(message)          // spans started here join the trace of POST /orders
        }
    }
    return offset
}

@Suite("Documentation snippets: module catalogs", .ownThreads)
struct ModuleCatalogSnippetTests {
    @Test func embeddedCluster() throws {
        try docEmbedded()
    }

    @Test func metricsReporter() async throws {
        try await withMockCluster(brokers: 1, topics: ["orders": 1]) { cluster in
            let (broker, group, metrics) = try await docMetrics(addresses: cluster.addresses)
            metrics.cancel()
            await metrics.value
            group.close()
            broker.close()
        }
    }
}
