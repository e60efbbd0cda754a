import Foundation
import Kafka
import Testing
import KafkaTestSupport

/// The admin calls librdkafka 2.0.2's embedded cluster does not serve, against a real cluster
/// (`KAFKA_BROKERS`; `make test-tansu` runs them against tansu). Skipped on the embedded cluster,
/// where ``AdminTests`` covers what it serves.
@Suite(
    "Admin client on a Kafka cluster", .ownThreads, .serialized, .timeLimit(.minutes(2)),
    .enabled(if: ProcessInfo.processInfo.environment["KAFKA_BROKERS"].map { !$0.isEmpty } ?? false)
)
struct AdminClusterTests {
    @Test("createTopics with settings; describeTopics with settings; createPartitions; deleteTopics; one bad item fails alone")
    func topicLifecycle() async throws {
        try await onThread {
            let cluster = try IntegrationCluster()
            let broker = try cluster.dial()
            defer { broker.close() }
            let admin = KafkaAdmin(broker, timeout: .seconds(20))
            let name = "admin-\(UUID().uuidString.prefix(8).lowercased())"
            let created = try admin.createTopics([
                NewTopic(name, partitions: 2, configs: ["retention.ms": "3600000"]),
                NewTopic("bad name!", partitions: 1),
            ])
            try created[name]?.get()
            #expect(throws: KafkaError.self) { try created["bad name!"]?.get() }
            let again = try admin.createTopics([NewTopic(name, partitions: 2)])
            #expect(throws: KafkaError.self, "a second create of one name is refused") { try again[name]?.get() }

            #expect(try admin.listTopics().contains(name))
            let described = try #require(try admin.describeTopics([name], configs: true)[name]?.get())
            #expect(described.partitions.map(\.id) == [0, 1])
            #expect(described.configs?["retention.ms"]?.value == "3600000")
            if cluster.isTansu {
                withKnownIssue("tansu reports a topic's own settings with the source DEFAULT_CONFIG") {
                    #expect(described.configs?["retention.ms"]?.source == .dynamicTopic)
                }
            } else {
                #expect(described.configs?["retention.ms"]?.source == .dynamicTopic)
            }

            // changeConfigs keeps the topic's other settings; alterConfigs alone would drop retention.ms.
            if cluster.isTansu {
                // tansu declares no AlterConfigs: the whole call fails, before any request.
                #expect(throws: KafkaError.self) { try admin.changeConfigs([.topic(name): ["cleanup.policy": "compact"]]) }
            } else {
                try admin.changeConfigs([.topic(name): ["cleanup.policy": "compact"]])[.topic(name)]?.get()
                let settings = try admin.describeConfigs([.topic(name)])[.topic(name)]?.get()
                #expect(settings?["cleanup.policy"]?.value == "compact")
                #expect(settings?["retention.ms"]?.value == "3600000")
            }

            if cluster.isTansu {
                // tansu declares no CreatePartitions: the whole call fails, before any request.
                #expect(throws: KafkaError.self) { try admin.createPartitions([name: 3]) }
            } else {
                try admin.createPartitions([name: 3])[name]?.get()
                #expect(try admin.describeTopics([name])[name]?.get().partitions.count == 3)
            }

            let deleted = try admin.deleteTopics([name])
            try deleted[name]?.get()
        }
    }

    @Test("listGroups and describeGroups see a member and its partitions; deleteGroups removes an empty group")
    func groups() async throws {
        try await onThread {
            let cluster = try IntegrationCluster()
            let topic = try cluster.topic("admin-groups", partitions: 2)
            let broker = try cluster.dial()
            defer { broker.close() }
            let admin = KafkaAdmin(broker, timeout: .seconds(20))
            let group = "admin-group-\(UUID().uuidString.prefix(8).lowercased())"
            try broker.producer().produce(topic, partition: 0, messages: values(0..<3))
            var conf = GroupConsumerConf(group: group, topics: [topic])
            conf.sessionTimeout = .seconds(6)
            let member = try broker.groupConsumer(conf)
            _ = try member.consume()
            try member.commit()

            let listed = try admin.listGroups()
            #expect(listed.contains { $0.id == group }, "groups listed: \(listed.map(\.id))")
            let described = try #require(try admin.describeGroups([group])[group]?.get())
            #expect(described.state == .stable)
            if cluster.isTansu {
                withKnownIssue("tansu's DescribeGroups lists no members (and a member id as the assignor)") {
                    #expect(described.members.count == 1)
                }
            } else {
                #expect(described.members.count == 1)
                #expect(Set(described.members.flatMap(\.assignment)) == [TopicPartition(topic, 0), TopicPartition(topic, 1)])
            }

            member.close()
            let deleted = try admin.deleteGroups([group])
            try deleted[group]?.get()
            #expect(try admin.committedOffsets(group: group, topics: [topic]).isEmpty)
        }
    }

    @Test("deleteRecords moves the low watermark")
    func deleteRecords() async throws {
        try await onThread {
            let cluster = try IntegrationCluster()
            let topic = try cluster.topic("admin-records", partitions: 1)
            let broker = try cluster.dial()
            defer { broker.close() }
            let admin = KafkaAdmin(broker, timeout: .seconds(20))
            try broker.producer().produce(topic, partition: 0, messages: values(0..<5))
            let outcome = try admin.deleteRecords(before: [TopicPartition(topic, 0): 3])
            if cluster.isTansu {
                withKnownIssue("tansu does not serve DeleteRecords") {
                    let low = try outcome[TopicPartition(topic, 0)]?.get()
                    #expect(low == 3)
                }
            } else {
                #expect(try outcome[TopicPartition(topic, 0)]?.get() == 3)
                #expect(try broker.offsetEarliest(topic, partition: 0) == 3)
            }
        }
    }
}
