import Foundation
import Kafka
import KafkaTest
import KafkaTestSupport
import Testing

/// What the group contract needs of a member; the real client and the double both have it.
protocol GroupMember {
    func consume() throws -> Message
    func commit() throws
    func assignment() throws -> [TopicPartition]
    func close()
}

extension GroupConsumer: GroupMember {}
extension MockGroupConsumer: GroupMember {}

@Suite("Group contract: the in-memory group and the real client agree", .ownThreads, .timeLimit(.minutes(2)))
struct GroupContractTests {
    /// A topic of `partitions` holding 5 messages each, and a way to make members of one group.
    struct Setup {
        let topic: String
        let member: (GroupConsumerConf) throws -> any GroupMember
        let close: () -> Void
    }

    static func setup(_ target: Target, partitions: Int) throws -> Setup {
        switch target {
        case .inMemory:
            let broker = MockBroker(topics: ["contract": Int32(partitions)], clock: VirtualClock())
            for partition in 0..<partitions {
                broker.addMessages("contract", partition: Int32(partition), (0..<5).map { Message(value: "p\(partition)-\($0)") })
            }
            return Setup(topic: "contract", member: { try broker.groupConsumer($0) }, close: { broker.close() })
        case .cluster:
            let cluster = try IntegrationCluster(brokers: 1)
            let topic = try cluster.topic(partitions: partitions)
            let broker = try cluster.dial()
            let producer = try broker.producer()
            for partition in 0..<partitions {
                try producer.produce(topic, partition: Int32(partition), messages: (0..<5).map { Message(value: "p\(partition)-\($0)") })
            }
            return Setup(topic: topic, member: { try broker.groupConsumer($0) }, close: { broker.close(); _ = cluster })
        }
    }

    static func conf(_ topic: String, group: String) -> GroupConsumerConf {
        var conf = GroupConsumerConf(group: group, topics: [topic])
        conf.sessionTimeout = .milliseconds(4000)
        conf.heartbeatInterval = .milliseconds(300)
        conf.retryLimit = 150  // 7.5 s of empty fetches (retryWait 0): room for a join
        conf.commitPolicy = .manual
        return conf
    }

    @Test("a lone member gets every partition and reads every message once", arguments: Target.allCases)
    func loneMember(target: Target) throws {
        let setup = try Self.setup(target, partitions: 3)
        defer { setup.close() }
        let member = try setup.member(Self.conf(setup.topic, group: "lone-\(target.hashValue)"))
        defer { member.close() }
        let values = try (0..<15).map { _ in String(decoding: try member.consume().value ?? [], as: UTF8.self) }
        #expect(Set(values).count == 15)
        #expect(try member.assignment().map(\.partition) == [0, 1, 2])
    }

    @Test("what one member committed, the next member of the group does not read again", arguments: Target.allCases)
    func commitsCarryOver(target: Target) throws {
        let setup = try Self.setup(target, partitions: 1)
        defer { setup.close() }
        let group = "carry-\(UUID().uuidString.prefix(6))"
        let first = try setup.member(Self.conf(setup.topic, group: group))
        #expect(try (0..<3).map { _ in try first.consume().offset } == [0, 1, 2])
        try first.commit()
        first.close()
        let second = try setup.member(Self.conf(setup.topic, group: group))
        defer { second.close() }
        #expect(try second.consume().offset == 3)
    }
}
