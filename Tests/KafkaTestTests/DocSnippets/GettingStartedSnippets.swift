import Kafka
import KafkaTest
import Testing
import KafkaTestSupport

// The Swift blocks of Kafka.docc/GettingStarted.md and Kafka.md, verbatim.

func docGettingStartedDial() throws {
    let broker = try Broker.dial(["localhost:9092"], conf: BrokerConf(clientID: "billing"))
    defer { broker.close() }
    print(broker.addresses)
}

func docGettingStartedProduce(broker: Broker) throws {
    let producer = try broker.producer()
    let first = try producer.produce("events", partition: 0, messages: [Message(value: "hello")])

    var messages = [Message(key: "user-1", value: "a"), Message(key: "user-1", value: "b")]
    try producer.produce("events", partition: 0, messages: &messages)
    print(first, messages.map(\.offset))
}

func docGettingStartedConsume(broker: Broker) async throws {
    var conf = ConsumerConf(topic: "events", partition: 0)
    conf.retryLimit = 10
    let consumer = try await broker.consumer(conf)
    defer { consumer.close() }
    for try await message in consumer {
        print(message.offset, String(decoding: message.value ?? [], as: UTF8.self))
    }
}

func docOverview() async throws {
    let broker = try await Broker.dial(["localhost:9092"], conf: BrokerConf(clientID: "svc"))
    defer { broker.close() }
    let producer = try broker.producer(ProducerConf())
    let offset = try await producer.produce("events", partition: 0, messages: [Message(value: "hello")])

    var conf = ConsumerConf(topic: "events", partition: 0)
    conf.retryLimit = 10
    for try await message in try await broker.consumer(conf) { print(message.offset) }
    _ = offset
}

@Suite("Documentation snippets: getting started", .ownThreads)
struct GettingStartedSnippetTests {
    @Test func producesAndConsumes() async throws {
        try await withMockCluster(brokers: 1, topics: ["events": 1]) { cluster in
            let broker = try await Broker.dial(cluster.addresses)
            defer { broker.close() }
            try docGettingStartedProduce(broker: broker)
            try await docGettingStartedConsume(broker: broker)
            #expect(try await broker.offsetLatest("events", partition: 0) == 3)
        }
    }
}
