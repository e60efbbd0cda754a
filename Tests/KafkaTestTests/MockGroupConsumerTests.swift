import Kafka
import KafkaTest
import Synchronization
import Testing
import KafkaTestSupport

/// Records hook calls in order.
final class Calls: Sendable {
    let entries = Mutex<[String]>([])
    func add(_ entry: String) { entries.withLock { $0.append(entry) } }
    var all: [String] { entries.withLock { $0 } }
}

@Suite("Tier 1: in-memory consumer group", .ownThreads)
struct MockGroupConsumerTests {
    static func conf(_ group: String, _ calls: Calls, _ name: String, retryLimit: Int = 2) -> GroupConsumerConf {
        var conf = GroupConsumerConf(group: group, topics: ["orders"])
        conf.retryLimit = retryLimit
        conf.commitPolicy = .manual
        conf.rebalance.onAssigned = { calls.add("\(name) assigned \($0.partitions.map(\.partition))") }
        conf.rebalance.onRevoked = { rebalance in
            calls.add("\(name) revoked \(rebalance.partitions.map(\.partition))")
            try rebalance.commit()
        }
        return conf
    }

    @Test("a second member takes half the partitions: the first sees revoke, then its new assignment, at its next read")
    func joinRebalances() throws {
        let broker = MockBroker(topics: ["orders": 4], clock: VirtualClock())
        for partition in 0..<4 { broker.addMessages("orders", partition: Int32(partition), [Message(value: "a\(partition)")]) }
        let calls = Calls()
        let first = try broker.groupConsumer(Self.conf("g", calls, "first"))
        #expect(try first.consume().value != nil)
        #expect(try first.assignment().map(\.partition) == [0, 1, 2, 3])
        let second = try broker.groupConsumer(Self.conf("g", calls, "second"))
        var seen = Set<String>()
        for member in [first, second] {
            while let message = try? member.consume() { seen.insert(String(decoding: message.value ?? [], as: UTF8.self)) }
        }
        #expect(calls.all == ["first assigned [0, 1, 2, 3]", "first revoked [0, 1, 2, 3]", "first assigned [0, 1]", "second assigned [2, 3]"])
        #expect(try first.assignment().map(\.partition) == [0, 1])
        #expect(try second.assignment().map(\.partition) == [2, 3])
        // The first committed partition 0's message in onRevoked; the rest was read once by its owner.
        #expect(seen.count == 3)
        #expect(try second.committed([TopicPartition("orders", 0)]) == [TopicPartition("orders", 0): 1])
    }

    @Test("roundrobin deals partitions across members")
    func roundRobin() throws {
        let broker = MockBroker(topics: ["orders": 4], clock: VirtualClock())
        let calls = Calls()
        var a = Self.conf("rr", calls, "a")
        a.assignmentStrategy = .roundRobin
        var b = Self.conf("rr", calls, "b")
        b.assignmentStrategy = .roundRobin
        let first = try broker.groupConsumer(a)
        let second = try broker.groupConsumer(b)
        _ = try? first.consume()
        _ = try? second.consume()
        #expect(try first.assignment().map(\.partition) == [0, 2])
        #expect(try second.assignment().map(\.partition) == [1, 3])
    }

    @Test("commits are visible to a later member and to the offset coordinator; close leaves the group")
    func commitsSurvive() throws {
        let broker = MockBroker(topics: ["orders": 1], clock: VirtualClock())
        broker.addMessages("orders", partition: 0, (0..<4).map { Message(value: "m\($0)") })
        let calls = Calls()
        let first = try broker.groupConsumer(Self.conf("c", calls, "first"))
        #expect(try first.consume().offset == 0)
        #expect(try first.consume().offset == 1)
        try first.commit()
        first.close()
        #expect(throws: KafkaError.closed) { try first.consume() }
        #expect(try broker.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: "c")).offset("orders", partition: 0).offset == 2)
        let second = try broker.groupConsumer(Self.conf("c", calls, "second"))
        #expect(try second.consume().offset == 2)
    }

    @Test("Go's retry rules: noData after retryLimit empty reads; bad input as the real client")
    func rulesAndBadInput() throws {
        let clock = VirtualClock()
        let broker = MockBroker(topics: ["orders": 1], clock: clock)
        let member = try broker.groupConsumer(Self.conf("n", Calls(), "only", retryLimit: 3))
        #expect(throws: KafkaError.noData) { try member.consume() }
        #expect(clock.sleeps.count == 4)
        #expect(throws: KafkaError.self) { try broker.groupConsumer(GroupConsumerConf(group: "", topics: ["orders"])) }
        #expect(throws: KafkaError.self) { try broker.groupConsumer(GroupConsumerConf(group: "g", topics: ["missing"])) }
        let foreign = #expect(throws: KafkaError.self) { try member.commit([TopicPartition("orders", 5): 1]) }
        #expect(foreign?.description.contains("not assigned") == true)
    }

    @Test("a hook that throws is kept and the member goes on")
    func throwingHook() throws {
        struct Failure: Error {}
        let broker = MockBroker(topics: ["orders": 1], clock: VirtualClock())
        broker.addMessages("orders", partition: 0, [Message(value: "x")])
        var conf = GroupConsumerConf(group: "t", topics: ["orders"])
        conf.rebalance.onAssigned = { _ in throw Failure() }
        let member = try broker.groupConsumer(conf)
        #expect(try member.consume().value == Array("x".utf8))
        #expect(member.takeRebalanceError() is Failure)
    }
}
