import Kafka

// The Swift blocks of Kafka.docc/Operations.md, verbatim (compiled, not run: librdkafka's
// embedded cluster serves neither topic creation nor offsets by time).

func docOperationsCreate(broker: Broker) throws {
    let admin = broker.admin
    let created = try admin.createTopics([
        NewTopic("orders", partitions: 6, replicationFactor: 3, configs: ["retention.ms": "604800000"]),
        NewTopic("audit", partitions: 1, replicationFactor: 3),
    ])
    for (topic, outcome) in created {
        if case .failure(let error) = outcome { print("\(topic): \(error)") }
    }
}

func docOperationsLag(admin: KafkaAdmin) throws {
    for (partition, lag) in try admin.lag(group: "billing", topics: ["orders"]).sorted(by: { $0.key < $1.key }) {
        print("\(partition): committed \(lag.committed), end \(lag.end), behind \(lag.lag)")
    }
}

func docOperationsReset(admin: KafkaAdmin) throws {
    let plan = try admin.planReset(group: "billing", topic: "orders", to: .time(tenOClockYesterday))
    try admin.resetOffsets(group: "billing", to: plan.mapValues(\.target))
}
