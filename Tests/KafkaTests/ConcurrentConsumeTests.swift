import Foundation
import Kafka
import KafkaTest
import Synchronization
import Testing
import KafkaTestSupport

/// Starts `count` tasks, each awaiting one `consume()` of `consumer`.
private func waitingConsumes(_ consumer: some Consumer, count: Int) -> [Task<Message, any Error>] {
    (0..<count).map { _ in Task { try await consumer.consume() } }
}

/// Each of the `waiting` consumes got its own message (offsets 0 up); then as many consumes wait
/// on the emptied partition, and `close` wakes every one of them with `closed`.
private func expectEachGetsOneThenClosed(_ consumer: some Consumer, _ waiting: [Task<Message, any Error>], close: () -> Void) async throws {
    var offsets: [Int64] = []
    for task in waiting { offsets.append(try await task.value.offset) }
    #expect(offsets.sorted() == (0..<Int64(waiting.count)).map { $0 })
    let stranded = waitingConsumes(consumer, count: waiting.count)
    try await Task.sleep(for: .milliseconds(50))  // give them time to suspend; the outcome holds either way
    close()
    for task in stranded { await #expect(throws: KafkaError.closed) { try await task.value } }
}

@Suite("Concurrent async consumes of one consumer", .ownThreads, .timeLimit(.minutes(2)))
struct ConcurrentConsumeTests {
    @Test("2 and 16 async consume() calls on one partition consumer: each gets its own message, then closed", arguments: [2, 16])
    func partitionConsumer(count: Int) async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["shared": 1])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        var conf = ConsumerConf(topic: "shared", partition: 0)
        conf.startOffset = .oldest
        conf.requestTimeout = .milliseconds(200)
        let consumer = try await broker.consumer(conf)
        let waiting = waitingConsumes(consumer, count: count)
        // Every call waits on the empty partition; the messages come afterwards, one per call.
        try await broker.producer().produce("shared", partition: 0, messages: (0..<count).map { Message(value: "m\($0)") })
        try await expectEachGetsOneThenClosed(consumer, waiting, close: consumer.close)
    }

    @Test("2 and 16 async consume() calls on one group member with messages waiting: each gets its own message, then closed", arguments: [2, 16])
    func groupMember(count: Int) async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["shared": 2])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        try await broker.producer().produce("shared", partition: 0, messages: (0..<count).map { Message(value: "m\($0)") })
        let member = try await broker.groupConsumer(quickGroup("concurrent", ["shared"]))
        try await expectEachGetsOneThenClosed(member, waitingConsumes(member, count: count), close: member.close)
    }

    @Test("of two async consume() calls waiting on one consumer, cancelling one ends it alone; the other still gets the next message")
    func cancelOne() async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["shared": 1])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        var conf = ConsumerConf(topic: "shared", partition: 0)
        conf.startOffset = .oldest
        let consumer = try await broker.consumer(conf)
        defer { consumer.close() }
        let kept = Task { try await consumer.consume() }
        let cancelled = Task { try await consumer.consume() }
        try await Task.sleep(for: .milliseconds(50))  // give them time to suspend; the outcome holds either way
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        try await broker.producer().produce("shared", partition: 0, messages: [Message(value: "only")])
        #expect(try await kept.value.offset == 0)
    }
}
