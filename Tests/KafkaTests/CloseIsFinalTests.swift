import Foundation
import Kafka
import KafkaTest
import Testing
import KafkaTestSupport

/// Every read call of a consumer, each expected to throw `closed` once the consumer closed.
private func everyReadThrowsClosed(_ name: String, _ consumer: some BatchConsumer, borrowing: () throws -> Void) async {
    #expect(throws: KafkaError.closed, "\(name): consume()") { try consumer.consume() }
    #expect(throws: KafkaError.closed, "\(name): consumeBatch()") { try consumer.consumeBatch() }
    await #expect(throws: KafkaError.closed, "\(name): async consume()") { try await consumer.consume() }
    await #expect(throws: KafkaError.closed, "\(name): async consumeBatch()") { try await consumer.consumeBatch() }
    #expect(throws: KafkaError.closed, "\(name): withBorrowedBatch") { try borrowing() }
}

@Suite("Close is final", .ownThreads, .timeLimit(.minutes(2)))
struct CloseIsFinalTests {
    /// What is closed: the consumer itself, or the broker it came from.
    enum Closing: String, CaseIterable, Sendable {
        case consumer, broker
    }

    @Test("a partition consumer with messages buffered: every read after close throws closed", arguments: Closing.allCases)
    func partitionConsumer(closing: Closing) async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["buffered": 1])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        try await broker.producer().produce("buffered", partition: 0, messages: (0..<10).map { Message(value: "m\($0)") })
        var conf = ConsumerConf(topic: "buffered", partition: 0)
        conf.startOffset = .oldest
        let consumer = try await broker.consumer(conf)
        #expect(try await consumer.consume().offset == 0)
        switch closing {
        case .consumer: consumer.close()
        case .broker: broker.close()
        }
        await everyReadThrowsClosed("BrokerConsumer, \(closing) closed", consumer) { _ = try consumer.withBorrowedBatch { $0.count } }
    }

    @Test("a group member with messages buffered: every read after close throws closed; the buffered ones stay uncommitted", arguments: Closing.allCases)
    func groupMember(closing: Closing) async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["buffered": 1])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        try await broker.producer().produce("buffered", partition: 0, messages: (0..<10).map { Message(value: "m\($0)") })
        let conf = quickGroup("finals", ["buffered"])
        let member = try await broker.groupConsumer(conf)
        #expect(try await member.consume().offset == 0)
        #expect(try await member.consume().offset == 1)
        switch closing {
        case .consumer: member.close()
        case .broker: broker.close()
        }
        await everyReadThrowsClosed("GroupConsumer, \(closing) closed", member) { _ = try member.withBorrowedBatch { $0.count } }
        guard closing == .consumer else { return }
        defer { broker.close() }
        // What was fetched but never handed out stays for the group's next reader.
        let next = try await broker.groupConsumer(conf)
        defer { next.close() }
        #expect(try await next.consume().offset == 2)
    }

    @Test("an Mx over consumers with messages buffered: every read after close() throws mxClosed")
    func multiplexer() async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["buffered": 2])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        let producer = try broker.producer()
        var consumers: [BrokerConsumer] = []
        for partition in Int32(0)..<2 {
            try await producer.produce("buffered", partition: partition, messages: (0..<10).map { Message(value: "m\($0)") })
            var conf = ConsumerConf(topic: "buffered", partition: partition)
            conf.startOffset = .oldest
            consumers.append(try await broker.consumer(conf))
        }
        let mx = Mx.merge(consumers)
        _ = try await mx.consume()
        mx.close()
        #expect(throws: KafkaError.mxClosed) { try mx.consume() }
        await #expect(throws: KafkaError.mxClosed) { try await mx.consume() }
    }
}
