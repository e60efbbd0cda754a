import Foundation
import Kafka
import KafkaTest
import KafkaTestSupport
import Synchronization
import Testing

/// The processing loop behaves alike over the in-memory group and the real client.
@Suite("Processing contract: the loop on the in-memory group and on the real client", .ownThreads, .timeLimit(.minutes(2)))
struct ProcessingContractTests {
    /// What the contract needs: a loop over a topic of 2 partitions holding `messages`, and the
    /// group's committed offsets afterwards.
    struct Setup {
        let topic: String
        let run: (ProcessingConf, @escaping @Sendable (Message) async throws -> Void) async throws -> Void
        let committed: () async throws -> [TopicPartition: Int64]
    }

    static func messages(_ partition: Int) -> [Message] {
        (0..<40).map { Message(key: Array("k\($0 % 5)".utf8), value: Array("p\(partition)-\($0)".utf8)) }
    }

    /// What the handlers did.
    final class Tally: Sendable {
        let handled = Mutex(0)
        let seen = Mutex<[(key: [UInt8], partition: Int32, offset: Int64)]>([])
        var count: Int { handled.withLock { $0 } }
    }

    /// Runs the loop until `count` messages were handled (polling another task's progress), then stops it.
    static func runUntil(_ count: Int, _ tally: Tally, _ loop: @escaping @Sendable () async throws -> Void) async throws {
        let running = Task { try await loop() }
        let deadline = ContinuousClock.now + .seconds(60)
        while tally.count < count, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        running.cancel()
        try await running.value
    }

    static func group(_ topic: String, _ name: String) -> GroupConsumerConf {
        var conf = GroupConsumerConf(group: name, topics: [topic])
        conf.sessionTimeout = .milliseconds(4000)
        conf.heartbeatInterval = .milliseconds(300)
        conf.retryLimit = -1
        return conf
    }

    /// Runs a loop on `target` over a topic of 2 partitions holding ``messages(_:)`` until `count`
    /// messages were handled; returns the topic and the group's committed offsets afterwards.
    static func run(
        on target: Target, group name: String, conf: ProcessingConf, until count: Int, _ tally: Tally,
        handler: @escaping @Sendable (Message) async throws -> Void
    ) async throws -> (topic: String, committed: [TopicPartition: Int64]) {
        switch target {
        case .inMemory:
            let broker = MockBroker(topics: ["work": 2])
            defer { broker.close() }
            for partition in 0..<2 { broker.addMessages("work", partition: Int32(partition), messages(partition)) }
            let loop = try ProcessingLoop(broker: broker, group: group("work", name), conf: conf, handler: handler)
            try await runUntil(count, tally) { try await loop.run() }
            let coordinator = try broker.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: name))
            let committed = try Dictionary(uniqueKeysWithValues: (Int32(0)..<2).map { (TopicPartition("work", $0), try coordinator.offset("work", partition: $0).offset) })
            return ("work", committed)
        case .cluster:
            let cluster = try IntegrationCluster(brokers: 1)
            let topic = try cluster.topic(partitions: 2)
            let broker = try cluster.dial()
            defer { broker.close() }
            for partition in 0..<2 { try await broker.producer().produce(topic, partition: Int32(partition), messages: messages(partition)) }
            let loop = try ProcessingLoop(broker: broker, group: group(topic, "\(name)-\(topic)"), conf: conf, handler: handler)
            try await runUntil(count, tally) { try await loop.run() }
            return (topic, try await broker.committedOffsets(group: "\(name)-\(topic)", topics: [topic]))
        }
    }

    @Test("every message handled once, each key in offset order, and everything committed", arguments: Target.allCases)
    func handledInOrder(target: Target) async throws {
        let tally = Tally()
        var conf = ProcessingConf()
        conf.concurrency = 8
        conf.commitInterval = .milliseconds(50)
        let handler: @Sendable (Message) async throws -> Void = { message in
            try await Task.sleep(for: .microseconds(Int.random(in: 0..<500)))
            tally.seen.withLock { $0.append((message.key ?? [], message.partition, message.offset)) }
            tally.handled.withLock { $0 += 1 }
        }
        let (topic, committed) = try await Self.run(on: target, group: "contract", conf: conf, until: 80, tally, handler: handler)
        let all = tally.seen.withLock { $0 }
        #expect(all.count == 80)
        #expect(Set(all.map { "\($0.partition)/\($0.offset)" }).count == 80, "every message once")
        var last: [String: Int64] = [:]
        for entry in all {
            let key = "\(entry.partition)/\(String(decoding: entry.key, as: UTF8.self))"
            #expect(entry.offset > last[key, default: -1], "\(key) out of order")
            last[key] = entry.offset
        }
        #expect(committed == [TopicPartition(topic, 0): 40, TopicPartition(topic, 1): 40])
    }

    @Test("a message that never finishes holds back its key and its partition's commit only", arguments: Target.allCases)
    func heldBack(target: Target) async throws {
        let tally = Tally()
        var conf = ProcessingConf()
        conf.concurrency = 4
        conf.commitInterval = .milliseconds(50)
        conf.revokeDeadline = .milliseconds(100)
        let handler: @Sendable (Message) async throws -> Void = { message in
            if message.partition == 1, message.offset == 5 { try await Task.sleep(for: .seconds(3600)) }
            tally.handled.withLock { $0 += 1 }
        }
        let (topic, committed) = try await Self.run(on: target, group: "held", conf: conf, until: 73, tally, handler: handler)
        // Partition 1's key k0 waits behind its message at offset 5 (offsets 10, 15, ..., 35): 80 - 7.
        #expect(tally.count == 73)
        #expect(committed == [TopicPartition(topic, 0): 40, TopicPartition(topic, 1): 5])
    }
}
