import Foundation
import Kafka

/// An in-memory consumer of one partition, made by ``MockBroker/consumer(_:)``.
///
/// Reads the partition log from its start offset with the real consumer's
/// rules: `retryLimit + 1` empty reads, each followed by `retryWait` on the
/// broker's clock, then `KafkaError.noData` (never with -1: it waits for a
/// message, a pushed item or close); a position past the log end is
/// `offsetOutOfRange`, and so is one below the low watermark after
/// ``MockAdmin/deleteRecords(before:)-6tuhk``. Items queued with ``push(_:)-(Message)`` and ``push(_:)-(KafkaError)`` come first (Go kafkatest's
/// `Messages` and `Errors` channels, without blocking the test that pushes).
///
/// Messages of ``MockTransactionalProducer``s follow `ConsumerConf.isolation`: read-committed
/// (the default) skips those of aborted transactions and reads no further than the first message
/// of a transaction still open (the last stable offset), counting empty reads there until the
/// transaction ends; read-uncommitted reads everything. Non-transactional messages are always read.
public final class MockConsumer: BatchConsumer, AsyncSequence, @unchecked Sendable {
    // Safe: `position`, `scripted` are guarded by the shared state's lock.
    public typealias Element = Message
    public typealias AsyncIterator = ConsumerIterator<MockConsumer>

    let state: MockState
    /// The configuration of the first request for this partition.
    public let conf: ConsumerConf
    private let clock: any RetryClock
    private var position: Int64
    private var scripted: [Result<Message, KafkaError>] = []

    init(state: MockState, conf: ConsumerConf, start: Int64, clock: any RetryClock) {
        self.state = state
        self.conf = conf
        self.position = start
        self.clock = clock
    }

    /// Queues a message for the next ``consume()-8m35b``; its topic and partition are set from the conf, as Go did.
    public func push(_ message: Message) {
        var stamped = message
        stamped.topic = conf.topic
        stamped.partition = conf.partition
        enqueue(.success(stamped))
    }

    /// Queues an error for the next ``consume()-8m35b`` to throw (push `KafkaError.noData` to end an `Mx` worker).
    public func push(_ error: KafkaError) {
        enqueue(.failure(error))
    }

    private func enqueue(_ item: Result<Message, KafkaError>) {
        state.locked {
            scripted.append(item)
            state.condition.broadcast()
        }
    }

    /// The next pushed item or logged message. Same rules as `BrokerConsumer.consume()`.
    public func consume() throws -> Message {
        try next(batch: false)[0]
    }

    /// The `async` twin of ``consume()``; waits on a thread outside the cooperative pool.
    nonisolated(nonsending) public func consume() async throws -> Message {
        try await offPool { try self.consume() }
    }

    /// Every message available now (pushed ones first), or the empty-read rules when there is none.
    public func consumeBatch() throws -> [Message] {
        try next(batch: true)
    }

    /// The `async` twin of ``consumeBatch()``.
    nonisolated(nonsending) public func consumeBatch() async throws -> [Message] {
        try await offPool { try self.consumeBatch() }
    }

    /// Iterates with the `async` ``consume()-4dhh5``, ending at `KafkaError.noData`.
    public func makeAsyncIterator() -> ConsumerIterator<MockConsumer> {
        ConsumerIterator(self)
    }

    private enum Read {
        case messages([Message])
        case empty
    }

    private func next(batch: Bool) throws -> [Message] {
        var emptyReads = 0
        while true {
            let read = try state.locked { () throws(KafkaError) -> Read in
                while true {
                    try state.checkOpen()
                    if !scripted.isEmpty {
                        let item = scripted.removeFirst()
                        return .messages([try item.get()])
                    }
                    // The topic may have been deleted (MockAdmin) since this consumer was made.
                    guard let partitions = state.logs[conf.topic], Int(conf.partition) < partitions.count else {
                        throw .broker(.unknownTopicOrPartition, message: "topic \(conf.topic) partition \(conf.partition) is unknown")
                    }
                    let end = Int64(partitions[Int(conf.partition)].count)
                    // Below the low watermark (records deleted) is out of range too: the real consumer
                    // runs with auto.offset.reset=error.
                    let low = state.logStart(conf.topic, conf.partition)
                    if position > end || position < low {
                        throw .broker(.offsetOutOfRange, message: "offset \(position) is outside the log of \(conf.topic)/\(conf.partition) (\(low)...\(end))")
                    }
                    let stable = state.visibleEnd(conf.topic, conf.partition, conf.isolation)
                    if position < stable {
                        let seen = state.visible(conf.topic, conf.partition, from: position, to: stable, conf.isolation)
                        if seen.isEmpty {
                            // Only messages of aborted transactions: skipped, as the real consumer does.
                            position = stable
                            continue
                        }
                        let taken = batch ? seen : [seen[0]]
                        position = batch ? stable : seen[0].offset + 1
                        return .messages(taken)
                    }
                    if conf.retryLimit != -1 { return .empty }
                    state.condition.wait()
                }
            }
            switch read {
            case .messages(let messages): return messages
            case .empty:
                emptyReads += 1
                clock.sleep(for: conf.retryWait)
                if emptyReads > conf.retryLimit { throw KafkaError.noData }
            }
        }
    }
}

/// Runs `body` on a thread of its own, so that a blocking mock call (a consumer waiting for
/// messages without limit) never holds a thread of the cooperative pool. Not Dispatch's global
/// queue: on Linux Swift's tasks run on its threads too, so two mock calls waiting there starved
/// every task of the process, the one that would have woken them included (measured: a test
/// waiting for a commit hit its time limit).
func offPool<R: Sendable>(_ body: @escaping @Sendable () throws -> R) async throws -> R {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.name = "kafkatest-mock-call"
        thread.start()
    }
}
