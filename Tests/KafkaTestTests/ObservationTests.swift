import Kafka
import KafkaTest
import Testing
import KafkaTestSupport

@Suite("Tier 2: observation", .ownThreads)
struct ObservationTests {
    @Test("request counts per broker and API come from librdkafka's statistics")
    func requestCounts() async throws {
        try await withMockCluster(brokers: 1, topics: ["t": 1]) { cluster in
            var conf = BrokerConf()
            conf.properties["statistics.interval.ms"] = "100"
            let broker = try await Broker.dial(cluster.addresses, conf: conf)
            defer { broker.close() }
            for _ in 0..<3 { try await broker.producer().produce("t", partition: 0, messages: [Message(value: "v")]) }
            // A generous wait: the statistics come every 100 ms, but on a loaded machine this task
            // may wait seconds for a thread of the test pool, which blocking tests hold.
            let counts = try await broker.requestCounts(timeout: .seconds(30))
            #expect(counts.count(.produce, broker: 1) == 3)
            #expect(counts.count(.produce) == 3)
            #expect(counts.count(.metadata) >= 1)
        }
    }

    @Test("a snapshot shows topics, watermarks, leaders and committed offsets; addMessages creates topics")
    func snapshot() async throws {
        try await withMockCluster(brokers: 2, topics: ["a": 2]) { cluster in
            try await cluster.addMessages("a", partition: 1, [Message(value: "x"), Message(value: "y")])
            let added = try await cluster.addMessages("new", partition: 2, [Message(value: "z")])
            #expect(added.map(\.offset) == [0])
            let broker = try await Broker.dial(cluster.addresses)
            defer { broker.close() }
            try await broker.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: "g")).commit("a", partition: 1, offset: 2)
            let snapshot = try await cluster.snapshot(groups: ["g"])
            #expect(snapshot.topics["a"]?.map(\.high) == [0, 2])
            #expect(snapshot.topics["new"]?.map(\.high) == [0, 0, 1])
            #expect(snapshot.committed == ["g": ["a": [1: 2]]])
            try cluster.setLeader(topic: "a", partition: 0, broker: 2)
            let moved = try await cluster.snapshot()
            #expect(moved.topics["a"]?.first?.leader == 2)
        }
    }
}
