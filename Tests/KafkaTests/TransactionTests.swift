import Foundation
import Kafka
import KafkaTest
import Synchronization
import Testing
import KafkaTestSupport

/// The transactional producer on the embedded cluster: librdkafka 2.0.2's mock serves the
/// request flow (init, begin, produce, send offsets, commit, abort) and lets failures be
/// injected, but hides no aborted message and stores no sent offset: isolation itself is
/// shown by the in-memory tier (KafkaTestTests' "In-memory transactions and isolation").
@Suite("Transactions: the transactional producer on the embedded cluster", .ownThreads, .serialized, .timeLimit(.minutes(3)))
struct TransactionTests {
    static func conf(_ id: String = "tx-\(UUID().uuidString.prefix(8))") -> TransactionalProducerConf {
        var conf = TransactionalProducerConf(transactionalID: id)
        conf.transactionTimeout = .seconds(10)
        conf.coordinatorTimeout = .seconds(10)
        return conf
    }

    /// An embedded cluster with a one-partition `results` topic, and a broker dialled to it.
    static func cluster() throws -> (MockCluster, Broker) {
        let cluster = try MockCluster(brokers: 1, topics: ["results": 1])
        do {
            return (cluster, try Broker.dial(cluster.addresses))
        } catch {
            cluster.close()
            throw error
        }
    }

    static func readAll(_ broker: Broker, _ topic: String, _ partition: Int32 = 0) throws -> [Message] {
        var conf = ConsumerConf(topic: topic, partition: partition)
        conf.retryLimit = 2
        conf.isolation = .readUncommitted
        let consumer = try broker.consumer(conf)
        defer { consumer.close() }
        var messages: [Message] = []
        while let message = try? consumer.consume() { messages.append(message) }
        return messages
    }

    @Test("begin, produce, commit: the messages are written; the producer is ready for the next transaction")
    func commitWrites() async throws {
        // On a thread of its own: its blocking calls must not hold the test pool (see `onThread`).
        try await onThread {
            let cluster = try MockCluster(brokers: 1, topics: ["results": 2])
            defer { cluster.close() }
            let broker = try Broker.dial(cluster.addresses)
            defer { broker.close() }
            let producer = try broker.transactionalProducer(Self.conf())
            #expect(!producer.isInTransaction)
            try producer.beginTransaction()
            #expect(producer.isInTransaction)
            try producer.produce("results", partition: 0, messages: values(0..<3))
            try producer.produce("results", partition: 1, messages: values(3..<5))
            try producer.commitTransaction()
            #expect(!producer.isInTransaction)
            // Repeating the commit (as after a cancelled async commit) returns the same outcome.
            try producer.commitTransaction()
            #expect(try Self.readAll(broker, "results", 0).compactMap(\.text) == ["m0", "m1", "m2"])
            #expect(try Self.readAll(broker, "results", 1).compactMap(\.text) == ["m3", "m4"])
            try producer.beginTransaction()
            try producer.abortTransaction()
            #expect(!producer.isInTransaction)
        }
    }

    @Test("calls out of order are refused with a sentence saying what to do; abort with nothing open does nothing")
    func outOfOrder() async throws {
        // On a thread of its own: its blocking calls must not hold the test pool (see `onThread`).
        try await onThread {
            let (cluster, broker) = try Self.cluster()
            defer { cluster.close(); broker.close() }
            let producer = try broker.transactionalProducer(Self.conf("tx-order"))
            #expect(throws: KafkaError.invalidArgument("produce needs an open transaction on transactional producer tx-order; call beginTransaction() first")) {
                try producer.produce("results", partition: 0, messages: values(0..<1))
            }
            #expect(throws: KafkaError.invalidArgument("commitTransaction needs an open transaction on transactional producer tx-order; call beginTransaction() first")) {
                try producer.commitTransaction()
            }
            try producer.abortTransaction()
            try producer.beginTransaction()
            #expect(throws: KafkaError.invalidArgument("a transaction is already open on transactional producer tx-order; commit or abort it first")) {
                try producer.beginTransaction()
            }
            #expect(throws: KafkaError.invalidArgument("offset -1 for results/0 is negative; send the next offset to read")) {
                try producer.sendOffsets([TopicPartition("results", 0): -1], group: ConsumerGroupMetadata(group: "g"))
            }
            try producer.abortTransaction()
            #expect(try Self.readAll(broker, "results").isEmpty)
        }
    }

    @Test("the scoped form commits when its body returns and aborts when it throws")
    func scoped() async throws {
        // On a thread of its own: its blocking calls must not hold the test pool (see `onThread`).
        try await onThread {
            let (cluster, broker) = try Self.cluster()
            defer { cluster.close(); broker.close() }
            let producer = try broker.transactionalProducer(Self.conf())
            struct Refused: Error {}
            #expect(throws: Refused.self) {
                try producer.transaction {
                    try producer.produce("results", partition: 0, messages: values(0..<2, prefix: "aborted"))
                    throw Refused()
                }
            }
            #expect(!producer.isInTransaction)
            let offset = try producer.transaction {
                try producer.produce("results", partition: 0, messages: values(0..<2, prefix: "kept"))
            }
            #expect(offset >= 2, "the aborted transaction's messages were written before (the mock hides nothing)")
            #expect(!producer.isInTransaction)
        }
    }

    @Test("a failed AddPartitionsToTxn makes the transaction abortable: commit says so, abort recovers, the next transaction commits")
    func abortable() async throws {
        // On a thread of its own: its blocking calls must not hold the test pool (see `onThread`).
        try await onThread {
            let (cluster, broker) = try Self.cluster()
            defer { cluster.close(); broker.close() }
            let producer = try broker.transactionalProducer(Self.conf())
            try producer.beginTransaction()
            try cluster.failNext(.addPartitionsToTxn, with: [.topicAuthorizationFailed])
            #expect(throws: KafkaError.self) { try producer.produce("results", partition: 0, messages: values(0..<1)) }
            do {
                try producer.commitTransaction()
                Issue.record("the commit of a transaction whose partition was refused succeeded")
            } catch let error as KafkaError {
                #expect(error.transactionFailureKind == .abortable, "\(error)")
                #expect(error.description.contains("must be aborted"), "\(error)")
            }
            #expect(producer.isInTransaction, "an abortable failure leaves the transaction to abort")
            try producer.abortTransaction()
            try producer.transaction { try producer.produce("results", partition: 0, messages: values(1..<2)) }
            #expect(producer.fatalError == nil)
        }
    }

    @Test("a fenced producer (the coordinator answers EndTxn with invalidProducerEpoch) fails fatally, and every later call says so")
    func fencing() async throws {
        // On a thread of its own: its blocking calls must not hold the test pool (see `onThread`).
        try await onThread {
            // librdkafka 2.0.2's mock coordinator does not fence a second instance with the same id
            // (measured: the first committed after the second initialized), so the fence is injected.
            let (cluster, broker) = try Self.cluster()
            defer { cluster.close(); broker.close() }
            let producer = try broker.transactionalProducer(Self.conf("tx-fenced"))
            try producer.beginTransaction()
            try producer.produce("results", partition: 0, messages: values(0..<1))
            try cluster.failNext(.endTxn, with: [.invalidProducerEpoch])
            do {
                try producer.commitTransaction()
                Issue.record("the fenced producer committed")
            } catch let error as KafkaError {
                #expect(error.transactionFailureKind == .fatal, "\(error)")
                #expect(error.description.contains("unusable"), "\(error)")
            }
            let fatal = try #require(producer.fatalError)
            #expect(throws: fatal) { try producer.beginTransaction() }
            #expect(throws: fatal) { try producer.produce("results", partition: 0, messages: values(1..<2)) }
            #expect(throws: fatal) { try producer.abortTransaction() }
            // A new instance with the same id takes over.
            let successor = try broker.transactionalProducer(Self.conf("tx-fenced"))
            try successor.transaction { try successor.produce("results", partition: 0, messages: values(2..<3)) }
        }
    }

    @Test("a cancelled async commit goes on; committing again returns its outcome, then the producer is ready")
    func cancelledCommit() async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["results": 1])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        let producer = try await broker.transactionalProducer(Self.conf())
        try producer.beginTransaction()
        try await producer.produce("results", partition: 0, messages: values(0..<2))
        try cluster.failNext(.endTxn, on: 1, with: [(error: nil, delay: .seconds(5))])
        let commit = OffPoolTask { try await producer.commitTransaction() }
        // Cancelled from a thread of its own as soon as the commit began (the transaction is no
        // longer open), so that a test pool held by other tests cannot delay it past the commit.
        let canceller = OffPoolTask { () async throws -> ContinuousClock.Instant in
            let began = ContinuousClock.now + .seconds(10)
            while producer.isInTransaction && ContinuousClock.now < began { try await Task.sleep(for: .milliseconds(2)) }
            return commit.cancel()
        }
        let cancelled = try await canceller.task.value
        await #expect(throws: CancellationError.self) { try await commit.task.value }
        // Measured where the call ended, on its own thread, not by this test's continuation.
        #expect(try #require(commit.endedAfter(cancelled)) < .milliseconds(500), "the cancelled waiter did not return before the commit's 5 s")
        #expect(throws: KafkaError.invalidArgument("the last transaction of transactional producer \(producer.conf.transactionalID) is still ending; wait for its commit or abort")) {
            try producer.beginTransaction()
        }
        try await producer.commitTransaction()
        #expect(!producer.isInTransaction)
        try await producer.transaction { try await producer.produce("results", partition: 0, messages: values(2..<3)) }
    }

    @Test("the async scoped form aborts when its task is cancelled before the body returned")
    func cancelledScope() async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["results": 1])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        let producer = try await broker.transactionalProducer(Self.conf())
        let entered = Completion()
        let scope = Task {
            try await producer.transaction {
                try await producer.produce("results", partition: 0, messages: values(0..<1))
                entered.signal()
                try await Task.sleep(for: .seconds(30))
            }
        }
        try await entered.wait(within: .seconds(10))
        scope.cancel()
        await #expect(throws: CancellationError.self) { try await scope.value }
        #expect(!producer.isInTransaction, "the transaction was aborted")
        try await producer.transaction { try await producer.produce("results", partition: 0, messages: values(1..<2)) }
    }

    @Test("closing while a commit waits returns at once; the waiter gets closed; later calls throw closed")
    func closeDuringCommit() async throws {
        // On a thread of its own: its blocking calls must not hold the test pool (see `onThread`).
        try await onThread {
            let (cluster, broker) = try Self.cluster()
            defer { cluster.close(); broker.close() }
            let producer = try broker.transactionalProducer(Self.conf())
            try producer.beginTransaction()
            try producer.produce("results", partition: 0, messages: values(0..<1))
            try cluster.failNext(.endTxn, on: 1, with: [(error: nil, delay: .seconds(3))])
            let outcome = Mutex<Result<Void, any Error>?>(nil)
            let waiter = Thread { outcome.withLock { $0 = Result { try producer.commitTransaction() } } }
            waiter.start()
            Thread.sleep(forTimeInterval: 0.2)
            let start = ContinuousClock.now
            producer.close()
            #expect(ContinuousClock.now - start < .seconds(1))
            let deadline = ContinuousClock.now + .seconds(2)
            while outcome.withLock({ $0 == nil }) && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.01) }
            let result = outcome.withLock { $0 }
            #expect(throws: KafkaError.closed) { try result?.get() }
            #expect(throws: KafkaError.closed) { try producer.beginTransaction() }
        }
    }

    @Test("a coordinator that does not answer in time: making the producer fails retriably")
    func initTimesOut() async throws {
        // On a thread of its own: its blocking calls must not hold the test pool (see `onThread`).
        try await onThread {
            let (cluster, broker) = try Self.cluster()
            defer { cluster.close(); broker.close() }
            try cluster.failNext(.initProducerId, on: 1, with: [(error: nil, delay: .seconds(3))])
            var conf = Self.conf()
            conf.coordinatorTimeout = .milliseconds(500)
            do {
                _ = try broker.transactionalProducer(conf)
                Issue.record("initialization succeeded within 500 ms though the coordinator answers after 3 s")
            } catch let error as KafkaError {
                #expect(error.transactionFailureKind == .retriable, "\(error)")
            }
        }
    }

    @Test("consume, produce results and send the inputs' offsets in one transaction; after an abort the member rewinds to the committed offsets")
    func consumeTransformProduce() async throws {
        // On a thread of its own: its blocking calls must not hold the test pool (see `onThread`).
        try await onThread {
            let cluster = try MockCluster(brokers: 1, topics: ["inputs": 1, "results": 1])
            defer { cluster.close() }
            let broker = try Broker.dial(cluster.addresses)
            defer { broker.close() }
            try broker.producer().produce("inputs", partition: 0, messages: values(0..<6))
            var consumerConf = GroupConsumerConf(group: "eos", topics: ["inputs"])
            // 4 s sessions: with 1 s ones the embedded coordinator never completed the join here.
            consumerConf.sessionTimeout = .seconds(4)
            consumerConf.heartbeatInterval = .milliseconds(300)
            consumerConf.commitPolicy = .manual
            consumerConf.retryLimit = 400  // 20 s of empty fetches, then noData instead of a hang
            let consumer = try broker.groupConsumer(consumerConf)
            defer { consumer.close() }
            let producer = try broker.transactionalProducer(Self.conf())
            var firstThree: [Message] = []
            while firstThree.count < 3 { firstThree.append(try consumer.consume()) }
            #expect(try consumer.handedOutOffsets() == [TopicPartition("inputs", 0): 3])
            let metadata = try consumer.groupMetadata()
            #expect(metadata.group == "eos")
            try producer.transaction {
                for input in firstThree { try producer.produce("results", partition: 0, messages: [Message(value: "done \(input.text ?? "")")]) }
                try producer.sendOffsets(handedOutBy: consumer)
            }
            // Nothing was committed by the member itself (the mock stores no offset a transaction sends):
            // a rewind goes back to the start rule, and hands the inputs out again.
            try consumer.rewindToCommitted()
            #expect(try consumer.handedOutOffsets().isEmpty)
            #expect(try consumer.consume().offset == 0)

            var automatic = consumerConf
            automatic.group = "eos-auto"
            automatic.commitPolicy = .automatic(interval: .seconds(5))
            let autoCommitting = try broker.groupConsumer(automatic)
            defer { autoCommitting.close() }
            try producer.beginTransaction()
            #expect(throws: KafkaError.invalidArgument("the member of group eos-auto commits automatically, which would also commit outside the transaction; use CommitPolicy.manual")) {
                try producer.sendOffsets(handedOutBy: autoCommitting)
            }
            try producer.abortTransaction()
        }
    }
}

/// A one-shot signal a test task waits for with a bound.
private final class Completion: Sendable {
    private let done = Mutex(false)
    func signal() { done.withLock { $0 = true } }
    func wait(within limit: Duration) async throws {
        let deadline = ContinuousClock.now + limit
        while !done.withLock({ $0 }) {
            guard ContinuousClock.now < deadline else { throw KafkaError.timeout("the transaction body did not start within \(limit)") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}
