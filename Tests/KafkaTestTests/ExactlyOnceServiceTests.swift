import ExampleSupport
import Foundation
import Kafka
import KafkaTest
import Synchronization
import Testing
import KafkaTestSupport

/// `kafka-service --exactly-once`'s loop on the in-memory tier, whose broker honours isolation
/// and applies the offsets of committed transactions only (the embedded cluster does neither).
@Suite("Exactly-once service loop on the in-memory tier", .ownThreads, .timeLimit(.minutes(2)))
struct ExactlyOnceServiceTests {
    static let perPartition = 300

    static func groupConf() -> GroupConsumerConf {
        var conf = GroupConsumerConf(group: "eos", topics: ["in"])
        conf.commitPolicy = .manual
        return conf
    }

    /// Waits (polling the loop's progress) until `done` holds, or fails the test after `limit`.
    static func eventually(_ limit: Duration, _ what: String, _ done: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + limit
        while try !done() {
            guard ContinuousClock.now < deadline else { throw KafkaError.timeout("\(what) within \(limit)") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    @Test("stopped mid-stream (transaction open, no clean shutdown) and restarted: every input has exactly one committed result")
    func crashAndRestart() async throws {
        let broker = MockBroker(topics: ["in": 2, "out": 2])
        // A third of the inputs before the first instance starts, the rest once it stopped: it
        // stops mid-stream whatever its speed.
        let third = Self.perPartition / 3
        for partition in Int32(0)..<2 {
            broker.addMessages("in", partition: partition, (0..<third).map { Message(value: "v\($0)") })
        }
        let processed = Tally()
        // The first instance: stopped by cancellation once some batches committed, its producer
        // left open as a crash leaves it.
        let firstProducer = try broker.transactionalProducer(TransactionalProducerConf(transactionalID: "svc-0"))
        let firstConsumer = try broker.groupConsumer(Self.groupConf())
        let first = Task {
            try await ExactlyOnceLoop(consumer: firstConsumer, producer: firstProducer, output: "out").run { processed.add($0) }
        }
        try await Self.eventually(.seconds(45), "the first instance committed nothing") { processed.value > 0 }
        // The in-memory member's blocking wait for input ends at close, not at cancellation.
        first.cancel()
        firstConsumer.close()
        _ = await first.result
        for partition in Int32(0)..<2 {
            broker.addMessages("in", partition: partition, (third..<Self.perPartition).map { Message(value: "v\($0)") })
        }

        // The restart: the same transactional id fences the first and aborts what it left open.
        let secondProducer = try broker.transactionalProducer(TransactionalProducerConf(transactionalID: "svc-0"))
        let secondConsumer = try broker.groupConsumer(Self.groupConf())
        let second = Task {
            try await ExactlyOnceLoop(consumer: secondConsumer, producer: secondProducer, output: "out").run { processed.add($0) }
        }
        let coordinator = try broker.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: "eos"))
        try await Self.eventually(.seconds(45), "the restarted instance did not commit every input") {
            try (0..<2).allSatisfy { (partition: Int) throws -> Bool in try coordinator.offset("in", partition: Int32(partition)).offset == Int64(Self.perPartition) }
        }
        second.cancel()
        secondConsumer.close()
        _ = await second.result

        // What a read-committed consumer of the results sees: each input once.
        var results: [String: Int] = [:]
        for partition in Int32(0)..<2 {
            var conf = ConsumerConf(topic: "out", partition: partition)
            conf.retryLimit = 0
            conf.isolation = .readCommitted
            let reader = try broker.consumer(conf)
            while let message = try? await reader.consume() {
                let text = String(decoding: message.value ?? [], as: UTF8.self)
                results[String(text.prefix { $0 != ":" }), default: 0] += 1
            }
        }
        #expect(results.count == 2 * Self.perPartition, "\(results.count) inputs have a result")
        let repeated = results.filter { $0.value != 1 }
        #expect(repeated.isEmpty, "inputs with more than one committed result: \(repeated.keys.sorted().prefix(5))")
        #expect(processed.value == 2 * Self.perPartition, "every input was committed once across the two instances")
    }
}

/// Inputs committed so far, counted by the loops' tasks and read by the test.
private final class Tally: Sendable {
    private let count = Atomic<Int>(0)
    func add(_ value: Int) { count.add(value, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}
