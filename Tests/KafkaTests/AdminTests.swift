import Foundation
import Kafka
import KafkaTest
import Testing
import KafkaTestSupport

/// The admin client on the embedded cluster: what librdkafka 2.0.2's mock serves (metadata, the
/// cluster's identity, group offsets) and what it must never reach (calls that abort it).
@Suite("Admin client on the embedded cluster", .ownThreads, .serialized, .timeLimit(.minutes(2)))
struct AdminTests {
    @Test("cluster, listTopics and describeTopics: brokers, controller, partitions; an unknown topic fails alone")
    func describeCluster() async throws {
        try await onThread {
            let cluster = try MockCluster(brokers: 3, topics: ["orders": 3, "audit": 1])
            defer { cluster.close() }
            let broker = try Broker.dial(cluster.addresses)
            defer { broker.close() }
            let admin = broker.admin
            let described = try admin.cluster()
            #expect(described.brokers.map(\.id) == [1, 2, 3])
            #expect(described.clusterID?.isEmpty == false)
            // librdkafka's mock names a controller id outside its brokers' (0); a Kafka cluster one of them.
            #expect(described.controllerID != nil)
            #expect(try admin.listTopics() == ["audit", "orders"])

            let topics = try admin.describeTopics(["orders", "missing"])
            let orders = try #require(try topics["orders"]?.get())
            #expect(orders.partitions.map(\.id) == [0, 1, 2])
            #expect(orders.partitions.allSatisfy { (1...3).contains($0.leader) && $0.replicas.contains($0.leader) })
            #expect(orders.configs == nil, "settings only when asked for")
            #expect(throws: KafkaError.broker(.unknownTopicOrPartition, message: "topic missing not found in metadata")) {
                try topics["missing"]?.get()
            }
        }
    }

    @Test("createTopics, deleteTopics, createPartitions and deleteRecords check each item before any request")
    func perItemValidation() async throws {
        try await onThread {
            let cluster = try MockCluster(brokers: 1, topics: ["t": 1])
            defer { cluster.close() }
            let broker = try Broker.dial(cluster.addresses)
            defer { broker.close() }
            let admin = broker.admin
            let created = try admin.createTopics([NewTopic("bad name!", partitions: 1), NewTopic("zero", partitions: 0)])
            #expect(created.count == 2)
            #expect(throws: KafkaError.self) { try created["bad name!"]?.get() }
            #expect(throws: KafkaError.invalidArgument("topic zero needs at least 1 partition, not 0")) { try created["zero"]?.get() }
            let added = try admin.createPartitions(["t": 0])
            #expect(throws: KafkaError.invalidArgument("topic t cannot have 0 partitions; give the new total, above today's")) { try added["t"]?.get() }
            let deleted = try admin.deleteRecords(before: [TopicPartition("t", 0): -2])
            #expect(throws: KafkaError.invalidArgument("offset -2 for t/0 is below -1 (-1 deletes everything)")) {
                try deleted[TopicPartition("t", 0)]?.get()
            }
            #expect(try admin.createTopics([]).isEmpty)
            #expect(try admin.describeConfigs([]).isEmpty)
        }
    }

    @Test("group calls the embedded cluster would abort on throw unsupportedFeature and leave it serving")
    func refusedOnEmbedded() async throws {
        try await onThread {
            let cluster = try MockCluster(brokers: 1, topics: ["t": 1])
            defer { cluster.close() }
            let broker = try Broker.dial(cluster.addresses)
            defer { broker.close() }
            let admin = broker.admin
            for call in [
                { _ = try admin.deleteGroups(["g"]) },
                { _ = try admin.describeGroups(["g"]) },
                { _ = try admin.deleteCommittedOffsets(group: "g", partitions: [TopicPartition("t", 0)]) },
            ] as [() throws -> Void] {
                do {
                    try call()
                    Issue.record("the call reached the embedded cluster")
                } catch let error as KafkaError {
                    guard case .local(_, let message) = error else { Issue.record("not a local error: \(error)"); continue }
                    #expect(message.contains("does not serve"), "\(message)")
                }
            }
            #expect(try broker.offsetLatest("t", partition: 0) == 0, "still serving")
        }
    }

    @Test("planReset: earliest, latest, an offset held within the watermarks; running the plan moves the group")
    func planAndReset() async throws {
        try await onThread {
            let cluster = try MockCluster(brokers: 1, topics: ["ops": 2])
            defer { cluster.close() }
            let broker = try Broker.dial(cluster.addresses)
            defer { broker.close() }
            let producer = try broker.producer()
            try producer.produce("ops", partition: 0, messages: values(0..<6))
            try producer.produce("ops", partition: 1, messages: values(0..<2))
            let admin = broker.admin
            try admin.resetOffsets(group: "ops-group", to: [TopicPartition("ops", 0): 3])
            let p0 = TopicPartition("ops", 0)
            let p1 = TopicPartition("ops", 1)
            #expect(try admin.planReset(group: "ops-group", topic: "ops", to: .earliest) == [
                p0: ResetStep(current: 3, target: 0), p1: ResetStep(current: nil, target: 0),
            ])
            #expect(try admin.planReset(group: "ops-group", topic: "ops", to: .latest) == [
                p0: ResetStep(current: 3, target: 6), p1: ResetStep(current: nil, target: 2),
            ])
            let toFive = try admin.planReset(group: "ops-group", topic: "ops", to: .offset(5))
            #expect(toFive == [p0: ResetStep(current: 3, target: 5), p1: ResetStep(current: nil, target: 2)])
            #expect(throws: KafkaError.invalidArgument("offset -3 is negative; give the next offset the group reads")) {
                try admin.planReset(group: "ops-group", topic: "ops", to: .offset(-3))
            }
            #expect(throws: KafkaError.self, "a reset to a time in the future") {
                try admin.planReset(group: "ops-group", topic: "ops", to: .time(Date().addingTimeInterval(3600)))
            }
            try admin.resetOffsets(group: "ops-group", to: toFive.mapValues(\.target))
            #expect(try admin.lag(group: "ops-group", topics: ["ops"]) == [p0: GroupLag(committed: 5, end: 6), p1: GroupLag(committed: 2, end: 2)])
        }
    }

    @Test("the async twins answer as the blocking calls do; a cancelled one throws CancellationError")
    func asyncTwins() async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["a": 2])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        let admin = broker.admin
        #expect(try await admin.listTopics() == ["a"])
        #expect(try await admin.cluster().brokers.count == 1)
        #expect(try await admin.describeTopics(["a"])["a"]?.get().partitions.count == 2)
        let cancelled = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await admin.listTopics()
        }
        await #expect(throws: CancellationError.self) { try await cancelled.value }
    }
}
