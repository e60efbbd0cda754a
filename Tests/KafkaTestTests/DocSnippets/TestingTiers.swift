import KafkaTest
import Testing

@Test func forwardsToTheCustomersPartition() throws {       // in memory
    let kafka = MockBroker(topics: ["billing": 4])
    let forwarder = OrderForwarder(producer: try kafka.producer())
    #expect(try forwarder.forward(customer: "c-1", order: [1]) == 0)
    let written = try kafka.readProducers(timeout: .seconds(1))   // Go kafkatest's ReadProducers
    #expect(written.partition == (try Partitioner.hashPartition(key: Array("c-1".utf8), partitions: 4)))
}

@Test func survivesAFlakyBroker() async throws {             // the embedded cluster, with a fault
    try await withMockCluster(brokers: 3, topics: ["billing": 4]) { cluster in
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        try cluster.flaky(.produce, times: 2, error: .notEnoughReplicas)   // retried within ProducerConf.retryLimit
        let forwarder = OrderForwarder(producer: try broker.producer())
        #expect(try forwarder.forward(customer: "c-1", order: [1]) == 0)
    }
}
