import Kafka
import KafkaTest
import Testing
import KafkaTestSupport

/// Thrown by a transaction body to make it abort.
private struct Crash: Error {}

extension KafkaError {
    fileprivate var isInvalidArgument: Bool { if case .invalidArgument = self { true } else { false } }
    fileprivate var isInvalidConfiguration: Bool { if case .invalidConfiguration = self { true } else { false } }
}

/// A member of `group` reading `topics` with `isolation`, committing by hand, ending at `noData`
/// after one empty read (instant: the broker's clock is virtual).
private func member(
    _ broker: MockBroker, _ group: String, _ topics: [String] = ["out"], isolation: IsolationLevel = .readCommitted,
    start: StartOffset = .oldest, retryLimit: Int = 0, hooks: RebalanceHooks = RebalanceHooks()
) throws -> MockGroupConsumer {
    var conf = GroupConsumerConf(group: group, topics: topics)
    conf.isolation = isolation
    conf.commitPolicy = .manual
    conf.retryLimit = retryLimit
    conf.startOffset = start
    conf.rebalance = hooks
    return try broker.groupConsumer(conf)
}

/// The values `consumer` reads one at a time until `noData`.
private func drain(_ consumer: some Consumer) throws -> [String] {
    var seen: [String] = []
    while true {
        do {
            seen.append(try consumer.consume().text ?? "")
        } catch KafkaError.noData {
            return seen
        }
    }
}

/// The values `consumer` reads in batches until `noData`.
private func drainBatches(_ consumer: some BatchConsumer) throws -> [String] {
    var seen: [String] = []
    while true {
        do {
            seen += try consumer.consumeBatch().map { $0.text ?? "" }
        } catch KafkaError.noData {
            return seen
        }
    }
}

/// What a fresh member of a new group with `isolation` reads of `topic`.
private func view(_ broker: MockBroker, _ isolation: IsolationLevel, topic: String = "out", group: String) throws -> [String] {
    let reader = try member(broker, group, [topic], isolation: isolation)
    defer { reader.close() }
    return try drain(reader)
}

@Suite("In-memory transactions and isolation", .ownThreads)
struct TransactionDoubleTests {
    @Test("read-committed skips aborted transactions and stops before an open one; read-uncommitted reads everything")
    func isolation() throws {
        let broker = MockBroker(topics: ["out": 1])
        let producer = try broker.transactionalProducer(TransactionalProducerConf(transactionalID: "iso"))
        try producer.beginTransaction()
        #expect(try producer.produce("out", partition: 0, messages: [Message(value: "committed")]) == 0)
        try producer.commitTransaction()
        try producer.beginTransaction()
        #expect(try producer.produce("out", partition: 0, messages: [Message(value: "aborted")]) == 1)
        try producer.abortTransaction()
        broker.addMessages("out", partition: 0, [Message(value: "plain-1")])
        try producer.beginTransaction()
        #expect(try producer.produce("out", partition: 0, messages: [Message(value: "open")]) == 3)
        broker.addMessages("out", partition: 0, [Message(value: "plain-2")])

        var partitionConf = ConsumerConf(topic: "out", partition: 0)
        partitionConf.retryLimit = 0
        let partitionReader = try broker.consumer(partitionConf)
        #expect(partitionConf.isolation == .readCommitted)
        let committedReader = try member(broker, "committed")
        let batchReader = try member(broker, "committed-batches")
        let uncommittedReader = try member(broker, "uncommitted", isolation: .readUncommitted)

        // The open transaction holds back everything after its first message, also plain-2.
        #expect(try drain(partitionReader) == ["committed", "plain-1"])
        #expect(try drain(committedReader) == ["committed", "plain-1"])
        #expect(try drainBatches(batchReader) == ["committed", "plain-1"])
        #expect(try drain(uncommittedReader) == ["committed", "aborted", "plain-1", "open", "plain-2"])

        try producer.commitTransaction()
        #expect(try drain(partitionReader) == ["open", "plain-2"])
        #expect(try drain(committedReader) == ["open", "plain-2"])
        #expect(try drainBatches(batchReader) == ["open", "plain-2"])
        #expect(try drain(uncommittedReader) == [])
    }

    @Test("a reader that waits without limit is woken by the commit; .newest starts at the last stable offset", .timeLimit(.minutes(1)))
    func waitsForTheEnd() async throws {
        let broker = MockBroker(topics: ["out": 1])
        let producer = try broker.transactionalProducer(TransactionalProducerConf(transactionalID: "wait"))
        try producer.beginTransaction()
        try await producer.produce("out", partition: 0, messages: [Message(value: "late")])
        // Read-committed `.newest` is the first message of the open transaction, not the log end.
        let newest = try member(broker, "newest", start: .newest)
        let waiting = try member(broker, "waiting", retryLimit: -1)
        await #expect(throws: KafkaError.noData) { try await newest.consume() }
        let read = Task { try await waiting.consume().text }
        try await producer.commitTransaction()
        #expect(try await read.value == "late")
        #expect(try await newest.consume().text == "late")
        let uncommittedNewest = try member(broker, "uncommitted-newest", isolation: .readUncommitted, start: .newest)
        #expect(try drain(uncommittedNewest) == [])
    }

    @Test("offsets sent in a committed transaction become the group's committed offsets; in an aborted one they do not")
    func offsetsFollowTheTransaction() throws {
        let broker = MockBroker(topics: ["in": 1, "out": 1])
        broker.addMessages("in", partition: 0, (0..<3).map { Message(value: "in-\($0)") })
        let consumer = try member(broker, "svc", ["in"])
        let coordinator = try broker.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: "svc"))
        let producer = try broker.transactionalProducer(TransactionalProducerConf(transactionalID: "offsets"))
        let input = TopicPartition("in", 0)

        _ = try consumer.consume()
        _ = try consumer.consume()
        #expect(try consumer.handedOutOffsets() == [input: 2])
        #expect(try consumer.groupMetadata() == ConsumerGroupMetadata(group: "svc"))
        try producer.beginTransaction()
        try producer.produce("out", partition: 0, messages: [Message(value: "result")])
        try producer.sendOffsets(handedOutBy: consumer)
        #expect(try coordinator.offset("in", partition: 0).offset == -1)
        try producer.commitTransaction()
        #expect(try coordinator.offset("in", partition: 0).offset == 2)
        #expect(try consumer.committed() == [input: 2])

        _ = try consumer.consume()
        try producer.beginTransaction()
        try producer.sendOffsets(handedOutBy: consumer)
        try producer.sendOffsets([TopicPartition("in", 0): 1], group: ConsumerGroupMetadata(group: "other"))
        try producer.abortTransaction()
        #expect(try coordinator.offset("in", partition: 0).offset == 2)
        #expect(try broker.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: "other")).offset("in", partition: 0).offset == -1)
        #expect(broker.snapshot().committed == ["svc": ["in:0": 2]])

        // A member that commits by itself cannot hand its offsets to a transaction.
        var automatic = GroupConsumerConf(group: "auto", topics: ["in"])
        automatic.retryLimit = 0
        let autoMember = try broker.groupConsumer(automatic)
        #expect(autoMember.commitsAutomatically)
        #expect(!consumer.commitsAutomatically)
        try producer.beginTransaction()
        #expect(throws: KafkaError.self) { try producer.sendOffsets(handedOutBy: autoMember) }
        try producer.abortTransaction()
    }

    @Test("a second producer with the same transactional id aborts the first's transaction and fences it for good")
    func fencing() throws {
        let broker = MockBroker(topics: ["out": 1])
        let conf = TransactionalProducerConf(transactionalID: "svc-1")
        let first = try broker.transactionalProducer(conf)
        try first.beginTransaction()
        try first.produce("out", partition: 0, messages: [Message(value: "zombie")])
        broker.addMessages("out", partition: 0, [Message(value: "plain")])
        #expect(try view(broker, .readCommitted, group: "before") == [])

        let second = try broker.transactionalProducer(conf)
        #expect(!first.isInTransaction)
        #expect(try view(broker, .readCommitted, group: "after") == ["plain"])
        #expect(try view(broker, .readUncommitted, group: "raw") == ["zombie", "plain"])

        let fenced = try #require(throws: KafkaError.self) { try first.commitTransaction() }
        #expect(fenced.transactionFailureKind == .fatal)
        #expect(fenced.errorCode == .producerFenced)
        if case .transaction(let failure) = fenced { #expect(failure.operation == "commitTransaction") }
        #expect(first.fatalError == fenced)
        // Every later call throws the same error.
        #expect(throws: fenced) { try first.beginTransaction() }
        #expect(throws: fenced) { try first.abortTransaction() }
        #expect(throws: fenced) { try first.produce("out", partition: 0, messages: [Message(value: "again")]) }
        #expect(throws: fenced) { try first.sendOffsets([:], group: ConsumerGroupMetadata(group: "g")) }

        try second.beginTransaction()
        try second.produce("out", partition: 0, messages: [Message(value: "successor")])
        try second.commitTransaction()
        #expect(try view(broker, .readCommitted, group: "end") == ["plain", "successor"])
    }

    @Test("the scoped form commits when the body returns and aborts when it throws")
    func scopedForm() throws {
        let broker = MockBroker(topics: ["out": 1])
        let producer = try broker.transactionalProducer(TransactionalProducerConf(transactionalID: "scoped"))
        let offset = try producer.transaction { try producer.produce("out", partition: 0, messages: [Message(value: "kept")]) }
        #expect(offset == 0)
        #expect(!producer.isInTransaction)
        #expect(throws: Crash.self) {
            try producer.transaction {
                try producer.produce("out", partition: 0, messages: [Message(value: "dropped")])
                throw Crash()
            }
        }
        #expect(!producer.isInTransaction)
        #expect(try view(broker, .readCommitted, group: "c") == ["kept"])
        #expect(try view(broker, .readUncommitted, group: "u") == ["kept", "dropped"])
    }

    @Test("the async scoped form commits too")
    func scopedFormAsync() async throws {
        let broker = MockBroker(topics: ["out": 1])
        let producer = try broker.transactionalProducer(TransactionalProducerConf(transactionalID: "scoped-async"))
        _ = try await producer.transaction { try await producer.produce("out", partition: 0, messages: [Message(value: "kept")]) }
        await #expect(throws: Crash.self) {
            try await producer.transaction {
                try await producer.produce("out", partition: 0, messages: [Message(value: "dropped")])
                throw Crash()
            }
        }
        #expect(try view(broker, .readCommitted, group: "c") == ["kept"])
    }

    @Test("injected commit failures: retriable stays open to retry, abortable must be aborted, fatal latches")
    func injectedFailures() throws {
        let broker = MockBroker(topics: ["out": 1])
        let producer = try broker.transactionalProducer(TransactionalProducerConf(transactionalID: "faults"))

        producer.failNextCommit(with: .retriable)
        try producer.beginTransaction()
        try producer.produce("out", partition: 0, messages: [Message(value: "retried")])
        let retriable = try #require(throws: KafkaError.self) { try producer.commitTransaction() }
        #expect(retriable.transactionFailureKind == .retriable)
        #expect(producer.isInTransaction)
        try producer.commitTransaction()
        #expect(try view(broker, .readCommitted, group: "r") == ["retried"])

        producer.failNextCommit(with: .abortable)
        try producer.beginTransaction()
        try producer.produce("out", partition: 0, messages: [Message(value: "doomed")])
        let abortable = try #require(throws: KafkaError.self) { try producer.commitTransaction() }
        #expect(abortable.transactionFailureKind == .abortable)
        #expect(producer.isInTransaction)
        #expect(throws: abortable) { try producer.commitTransaction() }
        #expect(throws: abortable) { try producer.produce("out", partition: 0, messages: [Message(value: "more")]) }
        try producer.abortTransaction()
        #expect(!producer.isInTransaction)
        #expect(try view(broker, .readCommitted, group: "a") == ["retried"])

        // The scoped form retries a retriable commit, and aborts (then throws) an abortable one.
        producer.failNextCommit(with: .retriable)
        _ = try producer.transaction { try producer.produce("out", partition: 0, messages: [Message(value: "scoped-retried")]) }
        producer.failNextCommit(with: .abortable)
        #expect(throws: abortable) {
            try producer.transaction { try producer.produce("out", partition: 0, messages: [Message(value: "scoped-doomed")]) }
        }
        #expect(!producer.isInTransaction)
        #expect(try view(broker, .readCommitted, group: "s") == ["retried", "scoped-retried"])

        producer.failNextCommit(with: .fatal)
        try producer.beginTransaction()
        try producer.produce("out", partition: 0, messages: [Message(value: "lost")])
        broker.addMessages("out", partition: 0, [Message(value: "plain")])
        let fatal = try #require(throws: KafkaError.self) { try producer.commitTransaction() }
        #expect(fatal.transactionFailureKind == .fatal)
        #expect(!producer.isInTransaction)
        #expect(throws: fatal) { try producer.abortTransaction() }
        #expect(throws: fatal) { try producer.beginTransaction() }
        // Its transaction stays open, holding read-committed readers back, until the producer closes.
        #expect(try view(broker, .readCommitted, group: "f1") == ["retried", "scoped-retried"])
        producer.close()
        #expect(try view(broker, .readCommitted, group: "f2") == ["retried", "scoped-retried", "plain"])
        #expect(throws: KafkaError.closed) { try producer.beginTransaction() }
    }

    @Test("the real producer's rules: produce and commit need an open transaction, ends repeat, close is final")
    func rules() throws {
        let broker = MockBroker(topics: ["out": 1])
        #expect(try #require(throws: KafkaError.self) {
            try broker.transactionalProducer(TransactionalProducerConf(transactionalID: ""))
        }.isInvalidConfiguration)
        var slow = TransactionalProducerConf(transactionalID: "slow")
        slow.transactionTimeout = .seconds(3600)
        #expect(try #require(throws: KafkaError.self) { try broker.transactionalProducer(slow) }.isInvalidConfiguration)

        let producer = try broker.transactionalProducer(TransactionalProducerConf(transactionalID: "rules"))
        #expect(try #require(throws: KafkaError.self) {
            try producer.produce("out", partition: 0, messages: [Message(value: "x")])
        }.isInvalidArgument)
        #expect(broker.messages("out", partition: 0).isEmpty)
        #expect(try #require(throws: KafkaError.self) { try producer.commitTransaction() }.isInvalidArgument)
        try producer.abortTransaction()  // nothing open: nothing happens

        try producer.beginTransaction()
        #expect(producer.isInTransaction)
        #expect(try #require(throws: KafkaError.self) { try producer.beginTransaction() }.isInvalidArgument)
        #expect(try #require(throws: KafkaError.self) {
            try producer.sendOffsets([TopicPartition("out", 0): -1], group: ConsumerGroupMetadata(group: "g"))
        }.isInvalidArgument)
        #expect(try #require(throws: KafkaError.self) {
            try producer.produce("out", partition: 0, messages: [])
        }.isInvalidArgument)
        #expect(try #require(throws: KafkaError.self) {
            try producer.produce("missing", partition: 0, messages: [Message(value: "x")])
        }.errorCode == .unknownTopicOrPartition)
        try producer.produce("out", partition: 0, messages: [Message(value: "one")])
        try producer.commitTransaction()
        try producer.commitTransaction()  // the same commit's success again
        try producer.abortTransaction()  // nothing open: nothing happens
        #expect(try view(broker, .readCommitted, group: "c") == ["one"])

        try producer.beginTransaction()
        try producer.abortTransaction()
        #expect(try #require(throws: KafkaError.self) { try producer.commitTransaction() }.isInvalidArgument)

        try producer.beginTransaction()
        broker.close()
        #expect(throws: KafkaError.closed) { try producer.produce("out", partition: 0, messages: [Message(value: "x")]) }
        #expect(throws: KafkaError.closed) { try producer.commitTransaction() }
        #expect(throws: KafkaError.closed) { try producer.abortTransaction() }
        #expect(throws: KafkaError.closed) { try producer.beginTransaction() }
        #expect(throws: KafkaError.closed) { try broker.transactionalProducer(TransactionalProducerConf(transactionalID: "late")) }
    }

    @Test("the async twins write, send offsets, commit and abort as the blocking calls do")
    func asyncTwins() async throws {
        let broker = MockBroker(topics: ["in": 1, "out": 1])
        let producer = try broker.transactionalProducer(TransactionalProducerConf(transactionalID: "twins"))
        try producer.beginTransaction()
        var written = [Message(value: "a"), Message(value: "b")]
        let first = try await producer.produce("out", partition: 0, messages: &written)
        #expect(first == 0)
        #expect(written.map(\.offset) == [0, 1])
        try await producer.sendOffsets([TopicPartition("in", 0): 7], group: ConsumerGroupMetadata(group: "twins"))
        try await producer.commitTransaction()
        try producer.beginTransaction()
        _ = try await producer.produce("out", partition: 0, messages: [Message(value: "c")])
        try await producer.abortTransaction()
        #expect(try view(broker, .readCommitted, group: "c") == ["a", "b"])
        #expect(try await broker.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: "twins")).offset("in", partition: 0).offset == 7)
        await producer.shutdown()
        await #expect(throws: KafkaError.closed) { try await producer.commitTransaction() }
    }

    @Test("consume-transform-produce with aborts and rewinds ends with exactly one committed result per input")
    func consumeTransformProduce() throws {
        let broker = MockBroker(topics: ["in": 2, "out": 2])
        var inputs: [String] = []
        for partition in 0..<2 {
            let values = (0..<5).map { "p\(partition)-\($0)" }
            inputs += values
            broker.addMessages("in", partition: Int32(partition), values.map { Message(value: $0) })
        }
        let consumer = try member(broker, "transformer", ["in"])
        let producer = try broker.transactionalProducer(TransactionalProducerConf(transactionalID: "transformer-1"))
        var round = 0
        var rewinds = 0
        var handled: [String] = []
        while true {
            let input: Message
            do { input = try consumer.consume() } catch KafkaError.noData { break }
            round += 1
            try #require(round < 100, "the loop does not end")
            handled.append(input.text ?? "")
            if round == 4 { producer.failNextCommit(with: .abortable) }
            do {
                try producer.transaction {
                    try producer.produce("out", partition: input.partition, messages: [Message(value: "done-\(input.text ?? "")")])
                    if round == 1 || round == 7 { throw Crash() }
                    try producer.sendOffsets(handedOutBy: consumer)
                }
            } catch let error as KafkaError where error.transactionFailureKind == .abortable {
                try consumer.rewindToCommitted()
                rewinds += 1
            } catch is Crash {
                try consumer.rewindToCommitted()
                rewinds += 1
            }
        }
        #expect(rewinds == 3)
        // Every input was read again after each abort that covered it.
        #expect(handled.count == inputs.count + 3)
        #expect(Set(handled) == Set(inputs))
        let committed = try view(broker, .readCommitted, group: "check")
        #expect(committed.sorted() == inputs.map { "done-\($0)" }.sorted())
        let everything = try view(broker, .readUncommitted, group: "raw")
        #expect(everything.count == inputs.count + 3)
        #expect(try consumer.committed() == [TopicPartition("in", 0): 5, TopicPartition("in", 1): 5])
        #expect(try consumer.handedOutOffsets() == [TopicPartition("in", 0): 5, TopicPartition("in", 1): 5])
    }

    @Test("a rebalance hook ends the open transaction with the offsets the member handed out")
    func rebalanceEndsTheTransaction() throws {
        let broker = MockBroker(topics: ["in": 2, "out": 1])
        broker.addMessages("in", partition: 0, [Message(value: "a"), Message(value: "b")])
        broker.addMessages("in", partition: 1, [Message(value: "c")])
        let producer = try broker.transactionalProducer(TransactionalProducerConf(transactionalID: "hooked"))
        var hooks = RebalanceHooks()
        hooks.onRevoked = { rebalance in
            #expect(rebalance.groupMetadata == ConsumerGroupMetadata(group: "hooked-group"))
            #expect(rebalance.handedOut == [TopicPartition("in", 0): 2])
            try producer.endTransaction(before: rebalance)
        }
        let first = try member(broker, "hooked-group", ["in"], hooks: hooks)
        try producer.beginTransaction()
        for _ in 0..<2 {
            let input = try first.consume()
            try producer.produce("out", partition: 0, messages: [Message(value: "done-\(input.text ?? "")")])
        }
        let second = try member(broker, "hooked-group", ["in"])
        // The first's next read serves the rebalance: its hook commits the transaction.
        _ = try? first.consume()
        #expect(first.takeRebalanceError() == nil)
        #expect(!producer.isInTransaction)
        #expect(try view(broker, .readCommitted, group: "check") == ["done-a", "done-b"])
        #expect(try second.committed([TopicPartition("in", 0)]) == [TopicPartition("in", 0): 2])
    }
}
