import Foundation
import Kafka
import KafkaTest
import Testing
import KafkaTestSupport

/// `MockBroker.admin`: the in-memory ``AdminClient``, over the broker's own logs, commits and groups.
@Suite("MockAdmin: the in-memory admin client", .ownThreads)
struct MockAdminTests {
    /// A member of `group` reading `topics` that never blocks (an empty read ends with noData at once).
    static func member(_ broker: MockBroker, _ group: String, _ topics: [String], start: StartOffset = .oldest) throws -> MockGroupConsumer {
        var conf = GroupConsumerConf(group: group, topics: topics)
        conf.retryLimit = 0
        conf.commitPolicy = .manual
        conf.startOffset = start
        return try broker.groupConsumer(conf)
    }

    @Test("the admin contract holds on MockAdmin")
    func contract() throws {
        let broker = MockBroker()
        defer { broker.close() }
        let producer = try broker.producer()
        var count = 0
        try AdminContract(
            admin: broker.admin,
            produce: { topic, partition, messages in _ = try producer.produce(topic, partition: partition, messages: messages) },
            join: { group, topic in
                let member = try Self.member(broker, group, [topic])
                return { member.close() }
            },
            name: { stem in
                count += 1
                return "\(stem)-\(count)"
            }
        ).checkAll()
    }

    @Test("cluster(): one broker, 127.0.0.1:9092, that is the controller; the cluster id is mock-broker")
    func cluster() throws {
        let described = try MockBroker().admin.cluster()
        #expect(described == ClusterDescription(clusterID: "mock-broker", controllerID: 1, brokers: [BrokerMetadata(id: 1, host: "127.0.0.1", port: 9092)]))
        #expect(MockAdmin.broker.id == 1 && MockAdmin.clusterID == "mock-broker")
    }

    @Test("listTopics is sorted and shows names starting with __ only when asked")
    func listTopics() throws {
        let admin = MockBroker(topics: ["orders": 1, "__consumer_offsets": 50, "audit": 2]).admin
        #expect(try admin.listTopics() == ["audit", "orders"])
        #expect(try admin.listTopics(includeInternal: true) == ["__consumer_offsets", "audit", "orders"])
    }

    @Test("describeTopics: every partition led by broker 1, its only replica; Kafka's defaults beside the topic's own settings")
    func describeTopics() throws {
        let broker = MockBroker(topics: ["orders": 2])
        let admin = broker.admin
        try #require(try admin.createTopics([NewTopic("audit", partitions: 1, configs: ["cleanup.policy": "compact"])])["audit"]).get()
        let described = try admin.describeTopics(["orders", "audit"], configs: true)
        let orders = try #require(described["orders"]).get()
        #expect(orders.partitions == [0, 1].map { PartitionMetadata(id: $0, leader: 1, replicas: [1], inSyncReplicas: [1]) })
        #expect(orders.configs?["retention.ms"] == ConfigEntry(
            name: "retention.ms", value: "604800000", source: .defaultConfig, isDefault: true, isReadOnly: false, isSensitive: false
        ))
        let audit = try #require(described["audit"]).get()
        #expect(audit.configs?["cleanup.policy"] == ConfigEntry(
            name: "cleanup.policy", value: "compact", source: .dynamicTopic, isDefault: false, isReadOnly: false, isSensitive: false
        ))
    }

    @Test("createTopics refuses what a one-broker Kafka refuses, each topic alone, and creates the rest")
    func createTopicsPerItem() throws {
        let broker = MockBroker(topics: ["a_b": 1])
        let admin = broker.admin
        let created = try admin.createTopics([
            NewTopic("ok", partitions: 2, configs: ["retention.ms": "60000"]),
            NewTopic("wide", partitions: 1, replicationFactor: 3),
            NewTopic("placed", partitions: 0, replicaAssignment: [[1], [1], [1]]),
            NewTopic("elsewhere", partitions: 1, replicaAssignment: [[1], [2]]),
            NewTopic("twice", partitions: 1), NewTopic("twice", partitions: 1),
            NewTopic("a.b", partitions: 1),
            NewTopic("typo", partitions: 1, configs: ["retention.msx": "1"]),
            NewTopic("word", partitions: 1, configs: ["retention.ms": "a week"]),
            NewTopic("rf0", partitions: 1, replicationFactor: 0),
        ])
        try #require(created["ok"]).get()
        try #require(created["placed"]).get()
        #expect(failure(created["wide"]) == .broker(.invalidReplicationFactor, message: "Replication factor: 3 larger than available brokers: 1."))
        #expect(failure(created["elsewhere"])?.errorCode == .invalidReplicaAssignment)
        #expect(failure(created["twice"])?.errorCode == .invalidRequest)
        #expect(failure(created["a.b"]) == .broker(.invalidTopic, message: "Topic 'a.b' collides with existing topic: a_b"))
        #expect(failure(created["typo"]) == .broker(.invalidConfig, message: "Unknown topic config name: retention.msx"))
        #expect(failure(created["word"]) == .broker(.invalidConfig, message: "Invalid value a week for configuration retention.ms: Not a number of type LONG"))
        #expect(failure(created["rf0"]) == .invalidArgument("topic rf0 needs a replication factor of at least 1, not 0"))

        #expect(try admin.listTopics() == ["a_b", "ok", "placed"], "nothing refused was created")
        #expect(try broker.partitionCount("placed") == 3, "a replica assignment sets the partition count")
        #expect(try broker.producer().produce("ok", partition: 1, messages: values(0..<2)) == 0, "a new topic is written from offset 0")
        #expect(try admin.createTopics([]).isEmpty)
    }

    @Test("deleteTopics drops the topic's records, settings and committed offsets, and nothing of other topics")
    func deleteTopics() throws {
        let broker = MockBroker(topics: ["orders": 2, "audit": 1])
        let admin = broker.admin
        try #require(try admin.changeConfigs([.topic("orders"): ["retention.ms": "1000"]])[.topic("orders")]).get()
        broker.addMessages("orders", partition: 0, values(0..<3))
        try admin.resetOffsets(group: "g", to: [TopicPartition("orders", 0): 2, TopicPartition("audit", 0): 0])
        let reader = try broker.consumer(ConsumerConf(topic: "orders", partition: 0))

        let deleted = try admin.deleteTopics(["orders", "missing", "bad name!"])
        try #require(deleted["orders"]).get()
        #expect(failure(deleted["missing"])?.errorCode == .unknownTopicOrPartition)
        #expect(failure(deleted["bad name!"]) == .invalidArgument("topic name \"bad name!\" has an illegal character; use only a-z, A-Z, 0-9, '.', '_' and '-'"))
        #expect(try admin.committedOffsets(group: "g") == [TopicPartition("audit", 0): 0])
        #expect(throws: KafkaError.broker(.unknownTopicOrPartition, message: "topic orders not found in metadata")) {
            try broker.producer().produce("orders", partition: 0, messages: values(0..<1))
        }
        #expect(throws: KafkaError.broker(.unknownTopicOrPartition, message: "topic orders partition 0 is unknown")) { try reader.consume() }

        try #require(try admin.createTopics([NewTopic("orders", partitions: 1)])["orders"]).get()
        #expect(broker.messages("orders", partition: 0).isEmpty, "created again, it starts empty")
        #expect(try admin.describeConfigs([.topic("orders")])[.topic("orders")]?.get()["retention.ms"]?.source == .defaultConfig)
    }

    @Test("createPartitions: partitions can only be added; members of subscribed groups get the new ones")
    func createPartitions() throws {
        let broker = MockBroker(topics: ["orders": 1])
        let admin = broker.admin
        let member = try Self.member(broker, "g", ["orders"])
        #expect(throws: KafkaError.noData) { try member.consume() }
        #expect(try member.assignment() == [TopicPartition("orders", 0)])

        let grown = try admin.createPartitions(["orders": 2, "missing": 3])
        try #require(grown["orders"]).get()
        #expect(failure(grown["missing"]) == .broker(.unknownTopicOrPartition, message: "The topic 'missing' does not exist."))
        #expect(failure(try admin.createPartitions(["orders": 2])["orders"]) == .broker(.invalidPartitions, message: "Topic already has 2 partitions."))
        #expect(failure(try admin.createPartitions(["orders": 1])["orders"])?.errorCode == .invalidPartitions)

        broker.addMessages("orders", partition: 1, values(0..<1))
        #expect(try member.consume().partition == 1, "the member rebalanced onto the new partition")
        #expect(try member.assignment() == [TopicPartition("orders", 0), TopicPartition("orders", 1)])
    }

    @Test("settings: alterConfigs replaces, changeConfigs merges, a bad value changes nothing; broker 1 keeps its own")
    func settings() throws {
        let broker = MockBroker(topics: ["orders": 1])
        let admin = broker.admin
        try #require(try admin.alterConfigs([.topic("orders"): ["retention.ms": "1000", "segment.ms": "2000"]])[.topic("orders")]).get()
        let outcomes = try admin.changeConfigs([
            .topic("orders"): ["segment.ms": "3000"],
            .topic("missing"): ["segment.ms": "3000"],
            .broker(1): ["log.retention.hours": "1"],
            .broker(2): ["log.retention.hours": "1"],
        ])
        try #require(outcomes[.topic("orders")]).get()
        try #require(outcomes[.broker(1)]).get()
        #expect(failure(outcomes[.topic("missing")])?.errorCode == .unknownTopicOrPartition)
        #expect(failure(outcomes[.broker(2)])?.errorCode == .invalidRequest)

        let topic = try #require(try admin.describeConfigs([.topic("orders")])[.topic("orders")]).get()
        #expect(topic["retention.ms"]?.value == "1000" && topic["segment.ms"]?.value == "3000")
        #expect(failure(try admin.alterConfigs([.topic("orders"): ["retention.ms": "-5"]])[.topic("orders")])
            == .broker(.invalidConfig, message: "Invalid value -5 for configuration retention.ms: Value must be at least -1"))
        #expect(try admin.describeConfigs([.topic("orders")])[.topic("orders")]?.get()["retention.ms"]?.value == "1000", "unchanged")

        try #require(try admin.changeConfigs([.broker(1): ["num.io.threads": "4"]])[.broker(1)]).get()
        let brokerSettings = try #require(try admin.describeConfigs([.broker(1)])[.broker(1)]).get()
        #expect(brokerSettings.mapValues(\.value) == ["log.retention.hours": "1", "num.io.threads": "4"])
        #expect(brokerSettings.values.allSatisfy { $0.source == .dynamicBroker })
        try #require(try admin.alterConfigs([.broker(1): [:]])[.broker(1)]).get()
        #expect(try admin.describeConfigs([.broker(1)])[.broker(1)]?.get().isEmpty == true)
    }

    @Test("groups: members with their partitions, ids and assignor; simple groups; empty once members leave; unknown is dead")
    func groups() throws {
        let broker = MockBroker(topics: ["orders": 2])
        let admin = broker.admin
        var conf = GroupConsumerConf(group: "readers", topics: ["orders"])
        conf.properties["client.id"] = "billing"
        conf.assignmentStrategy = .roundRobin
        conf.instanceID = "billing-a"
        conf.commitPolicy = .manual
        let first = try broker.groupConsumer(conf)
        let second = try Self.member(broker, "readers", ["orders"])
        try broker.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: "committer")).commit("orders", partition: 0, offset: 1, metadata: "")

        #expect(try admin.listGroups() == [
            GroupListing(id: "committer", state: .empty, isSimple: true), GroupListing(id: "readers", state: .stable, isSimple: false),
        ])
        let readers = try #require(try admin.describeGroups(["readers"])["readers"]).get()
        #expect(readers.partitionAssignor == "roundrobin")
        #expect(readers.coordinator == 1)
        #expect(readers.members.map(\.clientID) == ["billing", "swift-kafka"])
        #expect(readers.members.map(\.host) == ["/127.0.0.1", "/127.0.0.1"])
        #expect(readers.members.first?.groupInstanceID == "billing-a")
        #expect(readers.members.first?.memberID.hasPrefix("billing-") == true)
        #expect(readers.members.map(\.assignment) == [[TopicPartition("orders", 0)], [TopicPartition("orders", 1)]])

        first.close()
        second.close()
        #expect(try admin.describeGroups(["readers"])["readers"]?.get().members == [])
        #expect(try admin.listGroups() == [
            GroupListing(id: "committer", state: .empty, isSimple: true), GroupListing(id: "readers", state: .empty, isSimple: false),
        ], "an emptied group stays, as Kafka keeps it until its offsets expire")
        let stranger = try #require(try admin.describeGroups(["stranger"])["stranger"]).get()
        #expect(stranger == GroupDescription(id: "stranger", state: .dead, partitionAssignor: "", isSimple: true, coordinator: 1, members: []))
        #expect(throws: KafkaError.local(code: -186, message: "Invalid argument or configuration: Duplicate groups not allowed")) {
            try admin.describeGroups(["g", "g"])
        }
    }

    @Test("deleteGroups: one with members is refused, an unknown one not found, an empty id invalid; the others go with their offsets")
    func deleteGroups() throws {
        let broker = MockBroker(topics: ["orders": 1])
        let admin = broker.admin
        let member = try Self.member(broker, "busy", ["orders"])
        defer { member.close() }
        try admin.resetOffsets(group: "idle", to: [TopicPartition("orders", 0): 0])
        let deleted = try admin.deleteGroups(["busy", "idle", "nobody", ""])
        try #require(deleted["idle"]).get()
        #expect(failure(deleted["busy"])?.errorCode == .nonEmptyGroup)
        #expect(failure(deleted["nobody"])?.errorCode == .groupIdNotFound)
        #expect(failure(deleted[""])?.errorCode == ErrorCode(rawValue: 24), "Kafka's INVALID_GROUP_ID")
        #expect(try admin.committedOffsets(group: "idle").isEmpty)
        #expect(try admin.listGroups().map(\.id) == ["busy"], "idle went with its offsets")
        #expect(try admin.deleteGroups([]).isEmpty)
    }

    @Test("committedOffsets and lag read the commits of members, coordinators and resets; bad input is refused")
    func committedAndLag() throws {
        let broker = MockBroker(topics: ["orders": 2, "audit": 1])
        let admin = broker.admin
        broker.addMessages("orders", partition: 0, values(0..<4))
        let member = try Self.member(broker, "g", ["orders"])
        _ = try member.consume()
        try member.commit()
        member.close()
        try broker.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: "g")).commit("audit", partition: 0, offset: 0, metadata: "")

        let p0 = TopicPartition("orders", 0)
        #expect(try admin.committedOffsets(group: "g") == [p0: 1, TopicPartition("audit", 0): 0])
        #expect(try admin.committedOffsets(group: "g", topics: ["orders"]) == [p0: 1])
        #expect(try admin.lag(group: "g", topics: ["orders"]) == [p0: GroupLag(committed: 1, end: 4)])
        #expect(try admin.committedOffsets(group: "never", topics: nil).isEmpty)
        #expect(throws: KafkaError.invalidArgument("the group id is empty; name the consumer group")) { try admin.committedOffsets(group: "") }
        #expect(throws: KafkaError.broker(.unknownTopicOrPartition, message: "topic missing not found in metadata")) {
            try admin.lag(group: "g", topics: ["missing"])
        }
        #expect(throws: KafkaError.invalidArgument("topic name is empty")) { try admin.committedOffsets(group: "g", topics: [""]) }
    }

    @Test("resetOffsets is refused while the group has a member; once it left, the next member starts at the reset offsets")
    func resetOffsets() throws {
        let broker = MockBroker(topics: ["orders": 1])
        let admin = broker.admin
        broker.addMessages("orders", partition: 0, values(0..<5))
        let p0 = TopicPartition("orders", 0)
        let member = try Self.member(broker, "g", ["orders"])
        #expect(throws: KafkaError.broker(.unknownConsumerID, message: "group g, orders/0")) { try admin.resetOffsets(group: "g", to: [p0: 3]) }
        #expect(try admin.committedOffsets(group: "g").isEmpty, "nothing set")
        member.close()

        #expect(throws: KafkaError.broker(.unknownTopicOrPartition, message: "group g, orders/4")) {
            try admin.resetOffsets(group: "g", to: [p0: 3, TopicPartition("orders", 4): 0])
        }
        #expect(try admin.committedOffsets(group: "g") == [p0: 3], "the partitions that exist are set")
        #expect(try Self.member(broker, "g", ["orders"]).consume().offset == 3)
    }

    @Test("planReset to a time: the first message stamped at or after it, else the end; unstamped messages never match")
    func planResetByTime() throws {
        let broker = MockBroker(topics: ["orders": 2])
        let admin = broker.admin
        broker.addMessages("orders", partition: 0, [1_000, 2_000, 3_000].map { Message(value: Array("v".utf8), timestamp: $0) })
        broker.addMessages("orders", partition: 1, values(0..<2))
        let plan = try admin.planReset(group: "g", topic: "orders", to: .time(Date(timeIntervalSince1970: 1.5)))
        #expect(plan == [
            TopicPartition("orders", 0): ResetStep(current: nil, target: 1), TopicPartition("orders", 1): ResetStep(current: nil, target: 2),
        ])
        #expect(try admin.planReset(group: "g", topic: "orders", to: .time(Date(timeIntervalSince1970: 9)))[TopicPartition("orders", 0)]?.target == 3)
        #expect(throws: KafkaError.broker(.unknownTopicOrPartition, message: "topic missing not found in metadata")) {
            try admin.planReset(group: "g", topic: "missing", to: .earliest)
        }
    }

    @Test("deleteCommittedOffsets: per partition; a topic a member subscribes to is refused; an unknown group throws")
    func deleteCommittedOffsets() throws {
        let broker = MockBroker(topics: ["orders": 1, "audit": 1])
        let admin = broker.admin
        try admin.resetOffsets(group: "g", to: [TopicPartition("orders", 0): 1, TopicPartition("audit", 0): 1])
        let member = try Self.member(broker, "g", ["orders"])
        defer { member.close() }
        let dropped = try admin.deleteCommittedOffsets(group: "g", partitions: [TopicPartition("orders", 0), TopicPartition("audit", 0), TopicPartition("audit", 5)])
        try #require(dropped[TopicPartition("audit", 0)]).get()
        #expect(failure(dropped[TopicPartition("orders", 0)])?.errorCode == .groupSubscribedToTopic)
        #expect(failure(dropped[TopicPartition("audit", 5)])?.errorCode == .unknownTopicOrPartition)
        #expect(try admin.committedOffsets(group: "g") == [TopicPartition("orders", 0): 1])
        #expect(throws: KafkaError.broker(.groupIdNotFound, message: "group nobody: The group id does not exist")) {
            try admin.deleteCommittedOffsets(group: "nobody", partitions: [TopicPartition("audit", 0)])
        }
        #expect(throws: KafkaError.invalidArgument("the group id is empty; name the consumer group")) {
            try admin.deleteCommittedOffsets(group: "", partitions: [])
        }
        #expect(try admin.deleteCommittedOffsets(group: "nobody", partitions: []).isEmpty)
    }

    @Test("deleteRecords moves the low watermark: offsetEarliest, consumers and group members follow it; it never moves back")
    func deleteRecords() throws {
        let broker = MockBroker(topics: ["orders": 2])
        let admin = broker.admin
        broker.addMessages("orders", partition: 0, values(0..<5))
        broker.addMessages("orders", partition: 1, values(0..<2))
        let p0 = TopicPartition("orders", 0)
        let p1 = TopicPartition("orders", 1)
        try admin.resetOffsets(group: "g", to: [p0: 1])

        let deleted = try admin.deleteRecords(before: [p0: 3, p1: -1])
        #expect(try deleted[p0]?.get() == 3)
        #expect(try deleted[p1]?.get() == 2, "-1 deletes everything")
        #expect(try broker.offsetEarliest("orders", partition: 0) == 3)
        #expect(try broker.offsetLatest("orders", partition: 0) == 5, "the high watermark stays")
        #expect(broker.messages("orders", partition: 0).map(\.offset) == [3, 4])
        #expect(try admin.deleteRecords(before: [p0: 1])[p0]?.get() == 3, "never moves back")

        #expect(try broker.consumer(ConsumerConf(topic: "orders", partition: 0)).consume().offset == 3, ".oldest starts at the low watermark")
        var below = ConsumerConf(topic: "orders", partition: 1)
        below.startOffset = .offset(1)
        #expect(throws: KafkaError.broker(.offsetOutOfRange, message: "offset 1 is outside the log of orders/1 (2...2)")) {
            try broker.consumer(below).consume()
        }
        let member = try Self.member(broker, "g", ["orders"])
        #expect(try member.consume().offset == 3, "a committed offset below the low watermark starts over at it")

        try #require(try admin.alterConfigs([.topic("orders"): ["cleanup.policy": "compact"]])[.topic("orders")]).get()
        #expect(failure(try admin.deleteRecords(before: [p0: 4])[p0])?.errorCode == .policyViolation)
        broker.reset()
        #expect(try broker.offsetEarliest("orders", partition: 0) == 0, "reset empties the logs: offsets start at 0 again")
    }

    @Test("after MockBroker.close() every call throws closed")
    func closed() async throws {
        let broker = MockBroker(topics: ["orders": 1])
        let admin = broker.admin
        broker.close()
        let p0 = TopicPartition("orders", 0)
        let calls: [(String, () throws -> Void)] = [
            ("cluster", { _ = try admin.cluster() }),
            ("listTopics", { _ = try admin.listTopics() }),
            ("describeTopics", { _ = try admin.describeTopics(["orders"]) }),
            ("createTopics", { _ = try admin.createTopics([NewTopic("x", partitions: 1)]) }),
            ("deleteTopics", { _ = try admin.deleteTopics(["orders"]) }),
            ("createPartitions", { _ = try admin.createPartitions(["orders": 2]) }),
            ("describeConfigs", { _ = try admin.describeConfigs([.topic("orders")]) }),
            ("alterConfigs", { _ = try admin.alterConfigs([.topic("orders"): [:]]) }),
            ("changeConfigs", { _ = try admin.changeConfigs([.topic("orders"): [:]]) }),
            ("listGroups", { _ = try admin.listGroups() }),
            ("describeGroups", { _ = try admin.describeGroups(["g"]) }),
            ("deleteGroups", { _ = try admin.deleteGroups(["g"]) }),
            ("committedOffsets", { _ = try admin.committedOffsets(group: "g") }),
            ("lag", { _ = try admin.lag(group: "g") }),
            ("resetOffsets", { try admin.resetOffsets(group: "g", to: [p0: 0]) }),
            ("planReset", { _ = try admin.planReset(group: "g", topic: "orders", to: .offset(-1)) }),
            ("deleteCommittedOffsets", { _ = try admin.deleteCommittedOffsets(group: "g", partitions: [p0]) }),
            ("deleteRecords", { _ = try admin.deleteRecords(before: [p0: 0]) }),
        ]
        for (name, call) in calls {
            #expect(throws: KafkaError.closed, "\(name)") { try call() }
        }
        await #expect(throws: KafkaError.closed) { try await admin.listGroups() }
    }

    @Test("the async twins answer as the blocking calls; a cancelled call throws CancellationError, through any AdminClient too")
    func asyncTwins() async throws {
        let broker = MockBroker(topics: ["orders": 2])
        let admin = broker.admin
        #expect(try await admin.listTopics() == ["orders"])
        let created = try await admin.createTopics([NewTopic("audit", partitions: 1)])
        try #require(created["audit"]).get()
        #expect(try await admin.describeTopics(["audit"])["audit"]?.get().partitions.count == 1)

        let client: any AdminClient = admin
        #expect(try await client.listTopics(includeInternal: false) == ["audit", "orders"])
        let cancelled = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await client.listGroups()
        }
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        let cancelledGeneric = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await Self.topicsOf(admin)
        }
        await #expect(throws: CancellationError.self) { try await cancelledGeneric.value }
    }

    /// A generic caller, as code written against the protocol is.
    static func topicsOf(_ client: some AdminClient) async throws -> [String] {
        try await client.listTopics(includeInternal: false)
    }
}
