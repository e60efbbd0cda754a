import Kafka
import KafkaTest
import Testing
import KafkaTestSupport

/// The service of the README's "Testing your service" section, kept compiling and passing here.
struct OrderForwarder<P: Producer> {
    let producer: P
    func forward(customer: String, order: [UInt8]) throws -> Int64 {
        try HashProducer(producer, partitions: 4).distribute("billing", messages: [Message(key: Array(customer.utf8), value: order)])
    }
}

@Suite("README example")
struct ReadmeExampleTests {
    @Test func forwardsToTheCustomersPartition() throws {
        let kafka = MockBroker(topics: ["billing": 4])
        let forwarder = OrderForwarder(producer: try kafka.producer())
        #expect(try forwarder.forward(customer: "c-1", order: [1]) == 0)
        let written = try kafka.readProducers(timeout: .seconds(1))
        #expect(written.partition == (try Partitioner.hashPartition(key: Array("c-1".utf8), partitions: 4)))
    }

    @Test func survivesAFlakyBroker() async throws {
        try await withMockCluster(brokers: 3, topics: ["billing": 4]) { cluster in
            let broker = try await Broker.dial(cluster.addresses)
            defer { broker.close() }
            try cluster.flaky(.produce, times: 2, error: .notEnoughReplicas)
            let forwarder = OrderForwarder(producer: try broker.producer())
            #expect(try forwarder.forward(customer: "c-1", order: [1]) == 0)
        }
    }
}
