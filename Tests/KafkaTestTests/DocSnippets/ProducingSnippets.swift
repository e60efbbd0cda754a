import Kafka
import KafkaTest
import Testing
import KafkaTestSupport

// The Swift blocks of Kafka.docc/Producing.md, verbatim.

func docProducingGoStyle(broker: Broker) throws -> BrokerProducer {
    var conf = ProducerConf()
    conf.compression = .zstd
    conf.retryLimit = 5
    let producer = try broker.producer(conf)
    var batch = [Message(key: "user-1", value: "signed up"), Message(key: "user-1", value: "paid")]
    let firstOffset = try producer.produce("events", partition: 2, messages: &batch)   // each message's offset is set too
    _ = firstOffset
    return producer
}

func docProducingAsync(producer: BrokerProducer) async throws -> Int64 {
    let offset = try await producer.produce("events", partition: 2, messages: [Message(value: "async")])
    return offset
}

func docProducingHash(broker: Broker) throws {
    let partitions = try broker.partitionCount("events")
    let hashed = HashProducer(try broker.producer(), partitions: partitions)
    try hashed.distribute("events", messages: [Message(key: "user-1", value: "x")])
}

func docProducingSender(broker: Broker, order: Order) async throws -> Int64 {
    let sender = try broker.sender()

    func placeOrder(_ order: Order) async throws -> Int64 {
        let receipt = try await sender.send(Message(key: order.customerID, value: order.json), to: "orders")
        return try await receipt.delivered().offset
    }
    return try await placeOrder(order)
}

func docProducingSenderConf(broker: Broker) async throws -> Int {
    var conf = SenderConf()
    conf.whenFull = .fail
    conf.onFailure = { failure in print("lost a record: \(failure)") }
    let events = try broker.sender(conf)
    try await events.send(Message(value: "audit"), to: "audit")
    let unsettled = await events.flush(timeout: .seconds(5))
    return unsettled
}

@Suite("Documentation snippets: producing", .ownThreads)
struct ProducingSnippetTests {
    @Test func runOnTheEmbeddedCluster() async throws {
        try await withMockCluster(brokers: 1, topics: ["events": 4, "orders": 2, "audit": 1]) { cluster in
            let broker = try await Broker.dial(cluster.addresses)
            defer { broker.close() }
            let producer = try docProducingGoStyle(broker: broker)
            #expect(try await docProducingAsync(producer: producer) == 2)
            #expect(try await broker.offsetLatest("events", partition: 2) == 3)
            try docProducingHash(broker: broker)
            let offset = try await docProducingSender(broker: broker, order: Order(customerID: "c-1", json: "{}"))
            #expect(offset == 0)
            #expect(try await docProducingSenderConf(broker: broker) == 0)
            #expect(try await broker.offsetLatest("audit", partition: 0) == 1)
        }
    }
}
