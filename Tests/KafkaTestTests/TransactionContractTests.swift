import Foundation
import Kafka
import KafkaTest
import Testing
import KafkaTestSupport

/// The transactional producer's rules, checked on `MockTransactionalProducer` and on the real
/// `TransactionalProducer` (what the embedded cluster can serve: the request flow, not isolation).
@Suite("Contract: transactions on Tier 1 and Tier 2", .ownThreads)
struct TransactionContractTests {
    static func producerConf() -> TransactionalProducerConf {
        var conf = TransactionalProducerConf(transactionalID: "contract-\(UUID().uuidString.prefix(8))")
        conf.transactionTimeout = .seconds(10)
        return conf
    }

    /// Whether `body` throws ``KafkaError/invalidArgument(_:)``.
    static func refused(_ body: () throws -> Void) -> Bool {
        do {
            try body()
            return false
        } catch KafkaError.invalidArgument {
            return true
        } catch {
            return false
        }
    }

    struct Rules: TransactionalBehaviour {
        func check<C: TransactionalClient>(_ fixture: Fixture<C>) throws {
            let topic = try fixture.makeTopic(1)
            let producer = try fixture.client.transactionalProducer(TransactionContractTests.producerConf())
            defer { producer.close() }
            #expect(TransactionContractTests.refused { try producer.produce(topic, partition: 0, messages: messages(0..<1)) }, "produce outside a transaction")
            #expect(TransactionContractTests.refused { try producer.commitTransaction() }, "commit with none open")
            try producer.abortTransaction()
            try producer.beginTransaction()
            #expect(producer.isInTransaction)
            #expect(TransactionContractTests.refused { try producer.beginTransaction() }, "begin while open")
            #expect(TransactionContractTests.refused {
                try producer.sendOffsets([TopicPartition(topic, 0): -5], group: ConsumerGroupMetadata(group: "g"))
            }, "a negative offset")
            try producer.produce(topic, partition: 0, messages: messages(0..<2))
            try producer.sendOffsets([TopicPartition(topic, 0): 2], group: ConsumerGroupMetadata(group: "contract-group"))
            try producer.commitTransaction()
            try producer.commitTransaction()  // repeating the commit returns its outcome
            #expect(!producer.isInTransaction)
            // Offsets of an aborted transaction are not applied.
            try producer.beginTransaction()
            try producer.sendOffsets([TopicPartition(topic, 0): 1], group: ConsumerGroupMetadata(group: "contract-group"))
            try producer.abortTransaction()
            // librdkafka 2.0.2's mock stores no offset sent in a transaction; the in-memory tier and
            // tansu (`make test-tansu`) do: the committed transaction's offset is the group's.
            if fixture.isTansu || fixture.client is MockBroker {
                let coordinator = try fixture.client.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: "contract-group"))
                #expect(try coordinator.offset(topic, partition: 0).offset == 2)
            }
            producer.close()
            #expect(throws: KafkaError.closed) { try producer.beginTransaction() }
        }
    }

    @Test("calls out of order are refused; a repeated commit returns its outcome; close is final", arguments: Target.allCases)
    func rules(target: Target) async throws { try await onOwnThread { try verifyTransactional(Rules(), on: target) } }

    /// What a transaction body throws to be aborted.
    struct Refused: Error {}

    struct Scoped: TransactionalBehaviour {
        func check<C: TransactionalClient>(_ fixture: Fixture<C>) throws {
            let topic = try fixture.makeTopic(1)
            let producer = try fixture.client.transactionalProducer(TransactionContractTests.producerConf())
            defer { producer.close() }
            #expect(throws: Refused.self) {
                try producer.transaction {
                    try producer.produce(topic, partition: 0, messages: messages(0..<3))
                    throw Refused()
                }
            }
            #expect(!producer.isInTransaction, "the throwing body's transaction was aborted")
            let first = try producer.transaction { try producer.produce(topic, partition: 0, messages: messages(3..<5)) }
            #expect(!producer.isInTransaction)
            // Read-committed: the committed pair is there (the embedded cluster also shows the
            // aborted three before it, the in-memory tier hides them).
            var conf = ConsumerConf(topic: topic, partition: 0)
            conf.retryLimit = 2
            let consumer = try fixture.client.consumer(conf)
            var read: [String] = []
            while let message = try? consumer.consume() { read.append(message.text ?? "") }
            #expect(Array(read.suffix(2)) == ["value-3", "value-4"], "\(read)")
            #expect(first >= 0)
        }
    }

    @Test("the scoped form aborts when its body throws and commits when it returns", arguments: Target.allCases)
    func scoped(target: Target) async throws { try await onOwnThread { try verifyTransactional(Scoped(), on: target) } }
}

/// Runs a blocking check on a thread of its own (``onThread(_:)``), so that the coordinator waits
/// of the embedded cluster never hold one of the test pool's two threads.
func onOwnThread(_ body: @escaping @Sendable () throws -> Void) async throws {
    try await onThread(body)
}
