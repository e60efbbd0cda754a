import Foundation
import Synchronization

/// A member of a balanced consumer group: subscribes to topics, reads the partitions the
/// group coordinator assigns it, and commits its progress. Made by ``Broker/groupConsumer(_:)-3v53p``.
///
/// It is a ``Consumer`` and ``BatchConsumer`` with Go's rules (`retryLimit` → `KafkaError.noData`,
/// `retryErrLimit`), so ``Mx``, the distributing producers and user code treat it like any
/// consumer; messages arrive in order per partition. Rebalances are served while consuming:
/// the hooks of ``GroupConsumerConf/rebalance`` run before a change takes effect.
///
/// Delivery is at least once: a message's offset becomes committable only after `consume()`
/// handed it out, and is stored for commit when the next fetch begins, at ``commit()-4jh0m``, and at
/// ``close()``. Each member owns its librdkafka handle.
public final class GroupConsumer: BatchConsumer, AsyncSequence, Sendable {
    public typealias Element = Message
    public typealias AsyncIterator = ConsumerIterator<GroupConsumer>

    /// The configuration the consumer was made with.
    public let conf: GroupConsumerConf
    let native: GroupHandle
    private let broker: Broker
    private let logger: any KafkaLogger
    /// The buffer, the fetch lock and every read, over this member's consumer queue.
    private let reader: ConsumerReader<GroupSource>
    private let rebalanceError = LastError()

    init(broker: Broker, conf: GroupConsumerConf) throws {
        try conf.validate()
        try broker.checkOpen()
        for topic in conf.topics { _ = try broker.partitionCount(topic) }
        let logger = conf.logger ?? broker.conf.logger
        let finalCommit = if case .automatic = conf.commitPolicy { true } else { false }
        native = try GroupHandle(
            properties: Broker.baseProperties(broker.addresses, broker.conf) + conf.librdkafkaProperties(),
            topics: conf.topics, group: conf.group, logger: logger, finalCommit: finalCommit, closeTimeout: conf.closeTimeout,
            tokenProvider: broker.conf.tokenProvider
        )
        self.conf = conf
        self.broker = broker
        self.logger = logger
        reader = ConsumerReader(
            source: GroupSource(native: native, group: conf.group, logger: logger), capacity: GroupHandle.batchCapacity,
            settings: ReadSettings(window: conf.requestTimeout, readsHeaders: conf.readsHeaders, clock: broker.conf.clock, machine: FetchMachine(conf))
        )
        let hooks = conf.rebalance
        let group = conf.group
        native.handle.context.rebalance.withLock { [rebalanceError, filter = native.filter, handedOut = native.handedOut] handler in
            handler = { rk, code, list in
                let partitions = GroupHandle.partitions(list)
                let kind = GroupHandle.kind(rk, code)
                filter.rebalanced(kind, partitions)
                // Offsets handed out before a partition came (back) say nothing of where the group stands now.
                if kind == .assigned { handedOut.forget(partitions) }
                defer { if kind != .assigned { handedOut.forget(partitions) } }
                let hook: (@Sendable (Rebalance) throws -> Void)? = switch kind {
                case .assigned: hooks.onAssigned
                case .revoked: hooks.onRevoked
                case .lost: hooks.onLost
                }
                logger.info("rebalance", [("group", group), ("change", "\(kind)"), ("partitions", partitions.map(\.description).joined(separator: " "))])
                if let hook {
                    let handle = CallbackHandle(rk: rk)
                    let change: Rebalance.Change = switch kind {
                    case .assigned: .assigned
                    case .revoked: .revoked
                    case .lost: .lost
                    }
                    let rebalance = Rebalance(
                        change: change, partitions: partitions,
                        handedOut: handedOut.offsets(of: Set(GroupHandle.assignment(rk) + partitions)),
                        groupMetadata: TransactionCalls.groupMetadata(rk, group: group),
                        commitOffsets: { try GroupHandle.commitGiven(handle.rk, $0) }
                    ) { try GroupHandle.commitStored(handle.rk) }
                    do {
                        try hook(rebalance)
                    } catch {
                        logger.error("rebalance hook failed", [("group", group), ("change", "\(kind)"), ("error", "\(error)")])
                        rebalanceError.value.withLock { $0 = error }
                    }
                    rebalance.end()
                }
                GroupHandle.apply(rk, code, list)
            }
        }
        try broker.adopt(native.handle)
    }

    /// The `async` form of ``Broker/groupConsumer(_:)`` is on ``Broker``.
    deinit {
        native.handle.close()
    }

    /// Returns the next message of the partitions assigned to this member, with Go's rules
    /// as ``BrokerConsumer/consume()-yiqi``; rebalances are served while it waits.
    /// - Throws: `KafkaError.noData` after `retryLimit + 1` empty fetches; `KafkaError.closed`;
    ///   the fetch error after `retryErrLimit` attempts (a subscribed topic that disappeared:
    ///   `unknownTopicOrPartition`).
    public func consume() throws -> Message {
        try reader.next()
    }

    /// The `async` twin of ``consume()``: suspends without holding a thread, cancellable.
    nonisolated(nonsending) public func consume() async throws -> Message {
        try await reader.next()
    }

    /// What ``consume()-1csht`` had buffered, or else the messages of one fetch (as soon as one is
    /// there, with the others already arrived; it never waits to fill a batch).
    public func consumeBatch() throws -> [Message] {
        try reader.batch()
    }

    /// The `async` twin of ``consumeBatch()``.
    nonisolated(nonsending) public func consumeBatch() async throws -> [Message] {
        try await reader.batch()
    }

    /// Runs `body` over the next messages as views into librdkafka's buffers: no copy and no
    /// allocation per message, for consumers that parse in place. The views are valid only inside
    /// `body`; headers are not read. A batch holds messages of one topic (``BorrowedBatch/topic``),
    /// in order per partition; a fetch that brought several topics is handed over one topic at a
    /// time. Messages ``consume()-1csht`` had already fetched come first, one per call (they are owned
    /// copies already). The batch's messages count as handed out once `body` ran, also when it
    /// throws: their offsets are stored for the next commit. Same retry, `KafkaError.noData`,
    /// error and close rules as ``consume()-1csht``; rebalances are served while it waits. `body` must
    /// not call this consumer (it holds the consumer's fetch lock): commit after it returns.
    /// - Throws: as ``consume()-1csht``, and whatever `body` throws.
    public func withBorrowedBatch<R>(_ body: (BorrowedBatch) throws -> R) throws -> R {
        try reader.borrowing(body)
    }

    /// Iterates with the `async` ``consume()-7bizc``; ends at `KafkaError.noData`.
    public func makeAsyncIterator() -> ConsumerIterator<GroupConsumer> {
        ConsumerIterator(self)
    }

    // MARK: - Commits

    /// Commits the offsets of every message handed out so far; returns when the coordinator
    /// acknowledged. Nothing handed out since the last commit is not an error.
    /// - Throws: the coordinator's error; `KafkaError.closed`.
    public func commit() throws {
        try reader.withBuffer { try reader.source.storeHandedOut($0) }
        try native.commit(nil)
    }

    /// The `async` twin of ``commit()``; cancellable.
    public func commit() async throws {
        // A read holding the buffer stored what was handed out when its fetch began.
        _ = try reader.withBufferIfAvailable { try reader.source.storeHandedOut($0) }
        try await native.commit(nil)
    }

    /// Commits `message` as processed (its offset + 1 for its partition).
    /// - Throws: `KafkaError.invalidArgument(_:)` for a message of a partition not assigned to
    ///   this member; the coordinator's error; `KafkaError.closed`.
    public func commit(_ message: Message) throws {
        try commit([TopicPartition(message.topic, message.partition): message.offset + 1])
    }

    /// The `async` twin of ``commit(_:)-(Message)``.
    public func commit(_ message: Message) async throws {
        try await commit([TopicPartition(message.topic, message.partition): message.offset + 1])
    }

    /// Commits `offsets` (the next offset to read, per partition).
    /// - Throws: `KafkaError.invalidArgument(_:)` for a partition not assigned to this member
    ///   or a negative offset; the coordinator's error; `KafkaError.closed`.
    public func commit(_ offsets: [TopicPartition: Int64]) throws {
        try checkCommittable(offsets)
        try native.commit(offsets)
    }

    /// The `async` twin of ``commit(_:)-([TopicPartition:Int64])``.
    public func commit(_ offsets: [TopicPartition: Int64]) async throws {
        try checkCommittable(offsets)
        try await native.commit(offsets)
    }

    private func checkCommittable(_ offsets: [TopicPartition: Int64]) throws {
        let assigned = Set(try native.assignment())
        for (partition, offset) in offsets {
            guard assigned.contains(partition) else {
                throw KafkaError.invalidArgument("cannot commit \(partition): it is not assigned to this member of group \(conf.group)")
            }
            guard offset >= 0 else { throw KafkaError.invalidArgument("offset \(offset) for \(partition) is negative") }
        }
    }

    // MARK: - Transactions

    /// This member's group metadata (group, generation, member id), for
    /// ``TransactionalProducer/sendOffsets(_:group:)-1bl2n``: the coordinator refuses offsets sent with
    /// the metadata of a generation the group has moved on from.
    /// - Throws: `KafkaError.closed`; librdkafka's error when it has none.
    public func groupMetadata() throws -> ConsumerGroupMetadata {
        try native.groupMetadata(group: conf.group)
    }

    /// The offset after the last message handed out, per assigned partition this member handed
    /// something out of since it was assigned (or since ``GroupConsumer/rewindToCommitted()-7ds52``): the offsets a
    /// transaction commits for the messages it consumed. Empty before the first.
    /// - Throws: `KafkaError.closed`.
    public func handedOutOffsets() throws -> [TopicPartition: Int64] {
        // A read holding the buffer stored what was handed out when its fetch began.
        _ = try reader.withBufferIfAvailable { try reader.source.storeHandedOut($0) }
        return native.handedOut.offsets(of: Set(try native.assignment()))
    }

    /// Moves every assigned partition back to the group's committed offset (where none was
    /// committed, to where ``GroupConsumerConf/startOffset`` says), dropping what was fetched and
    /// not handed out: after an aborted transaction, the inputs it consumed are read again.
    /// - Throws: the coordinator's error; librdkafka's seek error; `KafkaError.closed`.
    public func rewindToCommitted() throws {
        try reader.withBuffer { buffer in
            try reader.source.discardFetched(buffer)
            let assigned = try native.assignment()
            let committed = try native.committed(assigned, timeout: broker.conf.readTimeout)
            // librdkafka's logical offsets: the start rule for a partition without a commit.
            let start: Int64 = conf.startOffset == .newest ? -1 : -2
            for partition in assigned {
                let offset = committed[partition] ?? -1
                try native.seek(partition, to: offset >= 0 ? offset : start, timeout: broker.conf.readTimeout)
            }
            native.handedOut.forget(assigned)
        }
    }

    /// The `async` twin of ``rewindToCommitted()``, run on the library's call pool; cancellable
    /// (the rewind itself then still completes).
    public func rewindToCommitted() async throws {
        try await runBlocking { try self.rewindToCommitted() }
    }

    // MARK: - Position and flow

    /// The partitions assigned to this member now.
    public func assignment() throws -> [TopicPartition] {
        try native.assignment()
    }

    /// The group's committed offsets of `partitions` (default: the assignment); -1 where none.
    public func committed(_ partitions: [TopicPartition]? = nil) throws -> [TopicPartition: Int64] {
        try native.committed(partitions ?? native.assignment(), timeout: broker.conf.readTimeout)
    }

    /// The `async` twin of ``committed(_:)``: waits for the coordinator without holding a thread; cancellable.
    public func committed(_ partitions: [TopicPartition]? = nil) async throws -> [TopicPartition: Int64] {
        try await native.committed(partitions ?? native.assignment(), timeout: broker.conf.readTimeout)
    }

    /// The next offset this member fetches, per assigned partition (-1 before its first fetch).
    public func position() throws -> [TopicPartition: Int64] {
        try native.positions(native.assignment()).mapValues(\.position)
    }

    /// How many messages each assigned partition holds beyond this member's position, from
    /// the high watermarks librdkafka last saw (-1 where either is not known yet).
    public func lag() throws -> [TopicPartition: Int64] {
        try native.positions(native.assignment()).mapValues { $0.position < 0 || $0.high < 0 ? -1 : Swift.max(0, $0.high - $0.position) }
    }

    /// Stops fetching `partitions` (they stay assigned); messages already fetched are still handed out.
    public func pause(_ partitions: [TopicPartition]) throws {
        try native.pause(partitions, true)
    }

    /// Fetches `partitions` again after ``pause(_:)``.
    public func resume(_ partitions: [TopicPartition]) throws {
        try native.pause(partitions, false)
    }

    /// Moves the fetch position of an assigned partition; what was already fetched from it (at
    /// most one fetch) is handed out first.
    /// - Throws: librdkafka's error (e.g. for a partition not assigned); `KafkaError.closed`.
    public func seek(_ partition: TopicPartition, to offset: Int64) throws {
        guard offset >= 0 else { throw KafkaError.invalidArgument("offset \(offset) is negative") }
        try native.seek(partition, to: offset, timeout: broker.conf.readTimeout)
    }

    /// The `async` twin of ``seek(_:to:)``, run on the library's call pool; cancellable (the seek
    /// itself then still completes).
    public func seek(_ partition: TopicPartition, to offset: Int64) async throws {
        try await runBlocking { try self.seek(partition, to: offset) }
    }

    /// Moves every assigned partition to its first message written at or after `time` (by the
    /// message timestamp); a partition with none that recent moves to its end. What was already
    /// fetched (at most one fetch) is handed out first, as with ``seek(_:to:)-hmfg``.
    /// - Throws: the leaders' errors; librdkafka's seek error; `KafkaError.closed`.
    public func seek(to time: Date) throws {
        let assigned = try native.assignment()
        guard !assigned.isEmpty else { return }
        let millis = Int64(Swift.max(0, Swift.min(9.2e18, (time.timeIntervalSince1970 * 1000).rounded(.down))))
        let offsets = try native.handle.offsetsForTimes(
            Dictionary(uniqueKeysWithValues: assigned.map { ($0, millis) }), timeout: broker.conf.readTimeout
        )
        for partition in assigned {
            // librdkafka's logical end (-1) where no message is that recent.
            try native.seek(partition, to: offsets[partition] ?? -1, timeout: broker.conf.readTimeout)
        }
    }

    /// The `async` twin of ``seek(to:)``, run on the library's call pool; cancellable (the seek
    /// itself then still completes).
    public func seek(to time: Date) async throws {
        try await runBlocking { try self.seek(to: time) }
    }

    /// The latest statistics JSON librdkafka emitted for this member's handle (with
    /// `statistics.interval.ms` in `conf.properties`), or nil before the first.
    public func latestStatistics() -> String? {
        native.handle.context.statistics.withLock { $0 }
    }

    /// The error of the last rebalance hook that threw, if any; reading it clears it.
    public func takeRebalanceError() -> (any Error)? {
        rebalanceError.value.withLock { error in
            defer { error = nil }
            return error
        }
    }

    /// Commits per the policy (automatic: what was handed out), leaves the group at once (the
    /// others rebalance without waiting for the session timeout; ``RebalanceHooks/onRevoked``
    /// runs for the final revoke, and its ``Rebalance/commit()`` covers every message handed out),
    /// and wakes blocked calls with `KafkaError.closed`. Close is final: every later call throws
    /// `KafkaError.closed`, and messages fetched but not handed out are neither handed out nor
    /// committed (the group's next reader of their partition gets them). Idempotent.
    /// Returns within ``GroupConsumerConf/closeTimeout`` (plus librdkafka's own teardown, well under
    /// a second) whatever the coordinator does.
    public func close() {
        _ = reader.withBufferIfAvailable { try? reader.source.storeHandedOut($0) }
        native.handle.close()
    }

    /// The `async` twin of ``close()``, with the same bound: the commit and the leave run on the
    /// library's call pool while the task waits without holding a thread. Named apart from
    /// `close()` so that a `defer { consumer.close() }` in `async` code keeps its meaning. A
    /// cancelled task stops waiting at once; the close goes on and is final all the same.
    public func shutdown() async {
        try? await runBlocking { self.close() }
    }
}

/// The last error of a rebalance hook, shared with the rebalance callback.
private final class LastError: Sendable {
    let value = Mutex<(any Error)?>(nil)
}

/// One rebalance, as its hook sees it: which partitions, what happens to them, and a commit
/// that works inside the hook (librdkafka still owns the partitions while it runs).
public final class Rebalance: Sendable {
    /// What happens to ``partitions``.
    public enum Change: Sendable {
        /// Given to this member.
        case assigned
        /// About to be taken away; still owned while the hook runs.
        case revoked
        /// Taken away without an orderly revoke; commits for them will fail.
        case lost
    }

    /// What happens to ``partitions``.
    public let change: Change
    /// The partitions concerned, sorted.
    public let partitions: [TopicPartition]
    /// The offset after the last message the member handed out, per partition it owns while the
    /// hook runs: what ``TransactionalProducer/endTransaction(before:)`` commits.
    public let handedOut: [TopicPartition: Int64]
    /// The member's group metadata while the hook runs (nil where it has none), for a transaction.
    public let groupMetadata: ConsumerGroupMetadata?
    private let commitStored: @Sendable () throws -> Void
    private let commitGiven: (@Sendable ([TopicPartition: Int64]) throws -> Void)?
    private let active = Mutex(true)

    /// A rebalance as a hook sees it; `commit` commits what the member handed out, `handedOut` and
    /// `groupMetadata` are what a transaction needs (default: none). Made by ``GroupConsumer`` and by
    /// test doubles of it (KafkaTest's `MockGroupConsumer`).
    public init(
        change: Change, partitions: [TopicPartition], handedOut: [TopicPartition: Int64] = [:],
        groupMetadata: ConsumerGroupMetadata? = nil,
        commitOffsets: (@Sendable ([TopicPartition: Int64]) throws -> Void)? = nil,
        commit: @escaping @Sendable () throws -> Void
    ) {
        self.change = change
        self.partitions = partitions
        self.handedOut = handedOut
        self.groupMetadata = groupMetadata
        self.commitGiven = commitOffsets
        self.commitStored = commit
    }

    /// Commits `offsets` (the next offset to read, per partition) synchronously, from inside
    /// ``RebalanceHooks/onRevoked``: what a processing loop that finished part of what was handed
    /// out commits before its partitions go.
    /// - Throws: `KafkaError.invalidArgument(_:)` when called after the hook returned or on a
    ///   rebalance made without `commitOffsets`; the coordinator's error.
    public func commit(_ offsets: [TopicPartition: Int64]) throws {
        try active.withLock { active in
            guard active else {
                throw KafkaError.invalidArgument("Rebalance.commit(_:) was called after its hook returned; use GroupConsumer.commit(_:)")
            }
            guard let commitGiven else { throw KafkaError.invalidArgument("this rebalance cannot commit given offsets") }
            guard !offsets.isEmpty else { return }
            try commitGiven(offsets)
        }
    }

    /// Commits every offset handed out so far (stored when its fetch ended, or by an earlier
    /// `commit()`), synchronously: call it from ``RebalanceHooks/onRevoked`` to keep what was
    /// processed before the partitions go.
    /// - Throws: `KafkaError.invalidArgument(_:)` when called after the hook returned; the coordinator's error.
    public func commit() throws {
        try active.withLock { active in
            guard active else {
                throw KafkaError.invalidArgument("Rebalance.commit() was called after its hook returned; use GroupConsumer.commit()")
            }
            try commitStored()
        }
    }

    /// Ends the hook's turn: later ``commit()`` calls are refused. Called by whoever ran the hook.
    public func end() {
        active.withLock { $0 = false }
    }
}

/// A `rd_kafka_t` valid for the duration of one rebalance callback.
struct CallbackHandle: @unchecked Sendable {
    // Safe: used only by `Rebalance.commit()`, which refuses to run after the callback ended.
    let rk: OpaquePointer
}
