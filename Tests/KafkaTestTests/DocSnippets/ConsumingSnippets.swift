import Kafka
import KafkaTest
import Testing
import KafkaTestSupport

// The Swift blocks of Kafka.docc/ConsumingAndGroups.md, verbatim.

func docConsumingPartition(broker: Broker) throws {
    var conf = ConsumerConf(topic: "events", partition: 0)
    conf.startOffset = .newest           // or .oldest (the default), .offset(n)
    conf.retryLimit = 10                 // -1 (the default) waits for data until the consumer is closed
    let consumer = try broker.consumer(conf)
    do {
        while true { print(try consumer.consume()) }
    } catch KafkaError.noData {
        consumer.close()
    }
}

func docConsumingBorrowed(consumer: BrokerConsumer) throws -> Int {
    let bytes = try consumer.withBorrowedBatch { batch in
        batch.reduce(0) { total, message in total + (message.value?.count ?? 0) }
    }
    return bytes
}

func docConsumingMx(broker: Broker) async throws {
    let consumers = try (0..<4).map { partition in
        var conf = ConsumerConf(topic: "events", partition: Int32(partition))
        conf.retryLimit = 10
        return try broker.consumer(conf)
    }
    let merged = Mx.merge(consumers)
    for try await message in merged {
        print(message.partition, message.offset)
    }
    for consumer in consumers { consumer.close() }
}

func docConsumingGroup(broker: Broker) async throws {
    var conf = GroupConsumerConf(group: "billing", topics: ["orders"])
    conf.assignmentStrategy = .cooperativeSticky   // or .range (the default), .roundRobin
    conf.commitPolicy = .manual                    // default: .automatic(interval: .seconds(5))
    conf.rebalance.onRevoked = { rebalance in      // the partitions are still owned while this runs
        try flushState(for: rebalance.partitions)
        try rebalance.commit()                     // commits every message handed out so far
    }
    conf.rebalance.onAssigned = { rebalance in loadState(for: rebalance.partitions) }
    let group = try await broker.groupConsumer(conf)
    defer { group.close() }
    for try await message in group {
        try await handle(message)
        try await group.commit(message)            // or group.commit() for everything handed out
    }
}

func docConsumingCoordinator(broker: Broker) throws -> (Int64, String) {
    let coordinator = try broker.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: "billing"))
    try coordinator.commit("events", partition: 0, offset: 12, metadata: "v1")
    let (offset, metadata) = try coordinator.offset("events", partition: 0)
    return (offset, metadata)
}

@Suite("Documentation snippets: consuming", .ownThreads)
struct ConsumingSnippetTests {
    @Test func runOnTheEmbeddedCluster() async throws {
        try await withMockCluster(brokers: 1, topics: ["events": 4]) { cluster in
            let broker = try await Broker.dial(cluster.addresses)
            defer { broker.close() }
            for partition in Int32(0)..<4 {
                try await broker.producer().produce("events", partition: partition, messages: [Message(value: "abc"), Message(value: "de")])
            }
            // Starts at .newest: nothing new arrives, so it ends with noData.
            try docConsumingPartition(broker: broker)
            var conf = ConsumerConf(topic: "events", partition: 0)
            conf.retryLimit = 10
            let consumer = try await broker.consumer(conf)
            defer { consumer.close() }
            // A borrowed batch holds what had arrived when its first message came: the two
            // messages may come in one batch or two (seen in a loaded run).
            var bytes = 0
            while bytes < 5 { bytes += try docConsumingBorrowed(consumer: consumer) }
            #expect(bytes == 5)
            try await docConsumingMx(broker: broker)
            #expect(try docConsumingCoordinator(broker: broker) == (12, "v1"))
        }
    }
}
