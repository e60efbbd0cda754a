import Foundation
import Kafka
import Synchronization

/// The in-memory consumer groups of a ``MockBroker``: members, their assignments, and the
/// rebalance events each member has yet to see. Guarded by the broker's state lock.
final class MockGroups: @unchecked Sendable {
    // Safe: touched only with the owning `MockState`'s lock held.
    struct Member {
        let id: Int
        let conf: GroupConsumerConf
        var assignment: [TopicPartition] = []
        /// Changes not yet delivered to the member (delivered, with hooks, by its next read).
        var pending: [(Rebalance.Change, [TopicPartition])] = []
    }

    var members: [String: [Member]] = [:]
    var nextID = 0

    /// Recomputes `group`'s assignment after a member joined or left, eagerly (as librdkafka's
    /// range and roundrobin): every member is told to revoke what it had, then what it gets.
    func rebalance(_ group: String, partitionsOf partitionCount: (String) -> Int32) {
        guard var current = members[group], !current.isEmpty else { return }
        current.sort { $0.id < $1.id }
        let strategy = current[0].conf.assignmentStrategy
        let topics = Set(current.flatMap(\.conf.topics)).sorted()
        var next = Array(repeating: [TopicPartition](), count: current.count)
        if strategy == .roundRobin {
            let all = topics.flatMap { topic in (0..<partitionCount(topic)).map { TopicPartition(topic, $0) } }
            for (index, partition) in all.enumerated() { next[index % current.count].append(partition) }
        } else {
            // Range (cooperative-sticky is handled as range: the double rebalances eagerly).
            for topic in topics {
                let count = Int(partitionCount(topic))
                let size = count / current.count
                let extra = count % current.count
                var start = 0
                for index in current.indices {
                    let length = size + (index < extra ? 1 : 0)
                    next[index] += (start..<start + length).map { TopicPartition(topic, Int32($0)) }
                    start += length
                }
            }
        }
        for index in current.indices {
            if !current[index].assignment.isEmpty { current[index].pending.append((.revoked, current[index].assignment)) }
            current[index].pending.append((.assigned, next[index]))
            current[index].assignment = next[index]
        }
        members[group] = current
    }
}

/// An in-memory member of a consumer group: Tier 1's double of `GroupConsumer`.
///
/// Members of one group made from one ``MockBroker`` share its partitions: range or
/// roundrobin assignment (cooperative-sticky is treated as range), recomputed when a member
/// joins or leaves. As with the real client, the rebalance hooks run on the consuming
/// thread at the member's next read, revoke before assign, before the change takes effect;
/// a hook that throws is kept for ``takeRebalanceError()``. Reads follow Go's rules
/// (`retryLimit` → `KafkaError.noData`, through the broker's clock) and start at the
/// group's committed offset, else at `startOffset`. Commits are visible to later members and
/// to ``MockOffsetCoordinator``.
///
/// Messages of ``MockTransactionalProducer``s follow `GroupConsumerConf.isolation`, as
/// ``MockConsumer``'s do: read-committed (the default) skips aborted transactions and reads a
/// partition no further than the first message of a transaction still open; read-uncommitted
/// reads everything. As a `TransactionalConsumer` its handed-out offsets can be committed by
/// a transaction (`TransactionalProducing.sendOffsets(handedOutBy:)`), and
/// ``rewindToCommitted()-4cn30`` reads again what an aborted transaction consumed.
public final class MockGroupConsumer: TransactionalConsumer, AsyncSequence, @unchecked Sendable {
    // Safe: `positions`, `handedOut` and `lastError` are touched with the state lock held.
    public typealias Element = Message
    public typealias AsyncIterator = ConsumerIterator<MockGroupConsumer>

    /// The configuration the member was made with.
    public let conf: GroupConsumerConf
    private let state: MockState
    private let clock: any RetryClock
    private let id: Int
    private var positions: [TopicPartition: Int64] = [:]
    private var handedOut: [TopicPartition: Int64] = [:]
    private var paused: Set<TopicPartition> = []
    private var lastError: (any Error)?
    private var closed = false

    init(state: MockState, conf: GroupConsumerConf, clock: any RetryClock) throws {
        try conf.validateForMocks()
        self.state = state
        self.conf = conf
        self.clock = clock
        id = try state.locked { () throws(KafkaError) -> Int in
            try state.checkOpen()
            for topic in conf.topics {
                guard state.logs[topic] != nil else {
                    throw .broker(.unknownTopicOrPartition, message: "topic \(topic) not found in metadata")
                }
            }
            state.groups.nextID += 1
            let id = state.groups.nextID
            state.groups.members[conf.group, default: []].append(MockGroups.Member(id: id, conf: conf))
            state.groups.rebalance(conf.group) { Int32(state.logs[$0]?.count ?? 0) }
            state.condition.broadcast()
            return id
        }
    }

    /// The next message of the partitions assigned to this member; runs pending rebalance hooks first.
    /// - Throws: `KafkaError.noData` after `retryLimit + 1` empty reads; `KafkaError.closed`.
    public func consume() throws -> Message {
        try next(batch: false)[0]
    }

    /// The `async` twin of ``consume()``; waits on a thread outside the cooperative pool, and
    /// throws `CancellationError` at once when its task is cancelled.
    nonisolated(nonsending) public func consume() async throws -> Message {
        try await cancellableRead(batch: false)[0]
    }

    /// Every message available now on the assigned partitions, or the empty-read rules.
    public func consumeBatch() throws -> [Message] {
        try next(batch: true)
    }

    /// The `async` twin of ``consumeBatch()``; cancellable as the `async` ``consume()-11gwd``.
    nonisolated(nonsending) public func consumeBatch() async throws -> [Message] {
        try await cancellableRead(batch: true)
    }

    private func cancellableRead(batch: Bool) async throws -> [Message] {
        let cancellation = ReadCancellation()
        return try await withTaskCancellationHandler {
            try await offPool { try self.next(batch: batch, cancellation: cancellation) }
        } onCancel: {
            cancellation.cancel()
            // Wakes the read if it waits for messages; it then sees the cancellation.
            state.locked { state.condition.broadcast() }
        }
    }

    /// Stops handing out messages of `partitions` (they stay assigned), as the real client does.
    /// - Throws: `KafkaError.closed`.
    public func pause(_ partitions: [TopicPartition]) throws {
        try state.locked { () throws(KafkaError) in
            try checkOpen()
            paused.formUnion(partitions)
        }
    }

    /// Hands out messages of `partitions` again.
    /// - Throws: `KafkaError.closed`.
    public func resume(_ partitions: [TopicPartition]) throws {
        try state.locked { () throws(KafkaError) in
            try checkOpen()
            paused.subtract(partitions)
            state.condition.broadcast()
        }
    }

    /// Iterates with the `async` ``consume()-11gwd``, ending at `KafkaError.noData`.
    public func makeAsyncIterator() -> ConsumerIterator<MockGroupConsumer> {
        ConsumerIterator(self)
    }

    /// The partitions assigned to this member now (after the rebalances it has seen).
    public func assignment() throws -> [TopicPartition] {
        try state.locked { () throws(KafkaError) -> [TopicPartition] in
            try checkOpen()
            return positions.keys.sorted()
        }
    }

    /// Commits the offsets of every message handed out so far.
    public func commit() throws {
        try state.locked { () throws(KafkaError) in
            try checkOpen()
            commitHandedOut()
        }
    }

    /// Commits `message` as processed.
    /// - Throws: `KafkaError.invalidArgument(_:)` for a partition not assigned to this member.
    public func commit(_ message: Message) throws {
        try commit([TopicPartition(message.topic, message.partition): message.offset + 1])
    }

    /// Commits `offsets` (next offset to read per partition).
    /// - Throws: `KafkaError.invalidArgument(_:)` for a partition not assigned to this member or a negative offset.
    public func commit(_ offsets: [TopicPartition: Int64]) throws {
        try state.locked { () throws(KafkaError) in
            try checkOpen()
            for (partition, offset) in offsets {
                guard positions[partition] != nil else {
                    throw .invalidArgument("cannot commit \(partition): it is not assigned to this member of group \(conf.group)")
                }
                guard offset >= 0 else { throw .invalidArgument("offset \(offset) for \(partition) is negative") }
                state.committed[conf.group, default: [:]]["\(partition.topic):\(partition.partition)"] = (offset, "")
            }
        }
    }

    /// The group's committed offsets of `partitions` (default: the assignment); -1 where none.
    public func committed(_ partitions: [TopicPartition]? = nil) throws -> [TopicPartition: Int64] {
        try state.locked { () throws(KafkaError) -> [TopicPartition: Int64] in
            try checkOpen()
            let asked = partitions ?? positions.keys.sorted()
            return Dictionary(uniqueKeysWithValues: asked.map { ($0, committedOffset($0) ?? -1) })
        }
    }

    // MARK: - Transactions

    /// Whether the member commits by itself: true for `GroupConsumerConf.CommitPolicy.automatic(interval:)`
    /// (the conf's default), which `TransactionalProducing.sendOffsets(handedOutBy:)` refuses.
    public var commitsAutomatically: Bool {
        if case .automatic = conf.commitPolicy { true } else { false }
    }

    /// The offset after the last message handed out, per assigned partition this member handed
    /// something out of since it was assigned (or since ``rewindToCommitted()-4cn30``): what a
    /// transaction commits for the messages it consumed. Empty before the first.
    /// - Throws: `KafkaError.closed`.
    public func handedOutOffsets() throws -> [TopicPartition: Int64] {
        try state.locked { () throws(KafkaError) -> [TopicPartition: Int64] in
            try checkOpen()
            return handedOut.filter { positions[$0.key] != nil }
        }
    }

    /// The member's group metadata: `ConsumerGroupMetadata(group: conf.group)` (the double has no
    /// generations, so nothing fences a member's offsets).
    /// - Throws: `KafkaError.closed`.
    public func groupMetadata() throws -> ConsumerGroupMetadata {
        try state.locked { () throws(KafkaError) in try checkOpen() }
        return ConsumerGroupMetadata(group: conf.group)
    }

    /// Moves every assigned partition back to the group's committed offset (where none was
    /// committed, to where `GroupConsumerConf.startOffset` says) and forgets what was handed
    /// out: after an aborted transaction, the inputs it consumed are read again. The double
    /// buffers nothing, so nothing else is dropped.
    /// - Throws: `KafkaError.closed`.
    public func rewindToCommitted() throws {
        try state.locked { () throws(KafkaError) in
            try checkOpen()
            for partition in positions.keys {
                positions[partition] = startPosition(partition)
                handedOut[partition] = nil
            }
        }
    }

    /// The `async` twin of ``rewindToCommitted()``; never suspends for long.
    public func rewindToCommitted() async throws {
        try { () throws in try self.rewindToCommitted() }()
    }

    /// The error of the last rebalance hook that threw, if any; reading it clears it.
    public func takeRebalanceError() -> (any Error)? {
        state.locked {
            defer { lastError = nil }
            return lastError
        }
    }

    /// Commits per the policy (automatic: what was handed out) and leaves the group; the other
    /// members rebalance at their next read. Idempotent.
    public func close() {
        state.locked {
            guard !closed else { return }
            closed = true
            if case .automatic = conf.commitPolicy { commitHandedOut() }
            state.groups.members[conf.group]?.removeAll { $0.id == id }
            state.groups.rebalance(conf.group) { Int32(state.logs[$0]?.count ?? 0) }
            state.condition.broadcast()
        }
    }

    // MARK: - Internals (state lock held unless said otherwise)

    private func checkOpen() throws(KafkaError) {
        try state.checkOpen()
        if closed { throw .closed }
    }

    private func committedOffset(_ partition: TopicPartition) -> Int64? {
        state.committed[conf.group]?["\(partition.topic):\(partition.partition)"]?.0
    }

    /// Where reading `partition` starts: the group's committed offset, else the start rule. A
    /// committed offset below the low watermark (records deleted) is out of range: the start rule.
    private func startPosition(_ partition: TopicPartition) -> Int64 {
        if let committed = committedOffset(partition), committed >= state.logStart(partition.topic, partition.partition) {
            return committed
        }
        return resetPosition(partition)
    }

    /// The start rule, librdkafka's `auto.offset.reset`: `.newest`, the newest offset this
    /// member's isolation can see; else the low watermark (0 unless records were deleted).
    private func resetPosition(_ partition: TopicPartition) -> Int64 {
        conf.startOffset == .newest
            ? state.visibleEnd(partition.topic, partition.partition, conf.isolation)
            : state.logStart(partition.topic, partition.partition)
    }

    private func commitHandedOut() {
        for (partition, offset) in handedOut {
            state.committed[conf.group, default: [:]]["\(partition.topic):\(partition.partition)"] = (offset, "")
        }
    }

    /// Takes this member's undelivered rebalance events and applies them to its positions.
    private func takePending() -> [(Rebalance.Change, [TopicPartition])] {
        guard let index = state.groups.members[conf.group]?.firstIndex(where: { $0.id == id }) else { return [] }
        let pending = state.groups.members[conf.group]?[index].pending ?? []
        state.groups.members[conf.group]?[index].pending.removeAll()
        return pending
    }

    /// Runs the hooks of `events` without the state lock (they may commit), in order, each
    /// change taking effect after its hook, as with the real client.
    private func deliver(_ events: [(Rebalance.Change, [TopicPartition])]) {
        for (change, partitions) in events {
            let hook = switch change {
            case .assigned: conf.rebalance.onAssigned
            case .revoked: conf.rebalance.onRevoked
            case .lost: conf.rebalance.onLost
            }
            // Offsets handed out before a partition came (back) say nothing of where the group stands now.
            let handedOutNow = state.locked { () -> [TopicPartition: Int64] in
                if change == .assigned { for partition in partitions { handedOut[partition] = nil } }
                return handedOut
            }
            if let hook {
                let rebalance = Rebalance(
                    change: change, partitions: partitions, handedOut: handedOutNow,
                    groupMetadata: ConsumerGroupMetadata(group: conf.group),
                    commitOffsets: { [self] in try commit($0) }
                ) { [self] in try commit() }
                do { try hook(rebalance) } catch { state.locked { lastError = error } }
                rebalance.end()
            }
            state.locked {
                switch change {
                case .assigned:
                    for partition in partitions { positions[partition] = startPosition(partition) }
                case .revoked, .lost:
                    for partition in partitions {
                        positions[partition] = nil
                        handedOut[partition] = nil
                        paused.remove(partition)
                    }
                }
            }
        }
    }

    private enum Read {
        case messages([Message])
        case events([(Rebalance.Change, [TopicPartition])])
        case empty
        case cancelled
    }

    private func next(batch: Bool, cancellation: ReadCancellation? = nil) throws -> [Message] {
        var emptyReads = 0
        while true {
            let read = try state.locked { () throws(KafkaError) -> Read in
                while true {
                    try checkOpen()
                    if cancellation?.isCancelled == true { return .cancelled }
                    let events = takePending()
                    if !events.isEmpty { return .events(events) }
                    for partition in positions.keys.sorted() where !paused.contains(partition) {
                        // Records deleted under the position: out of range, so the start rule applies.
                        if let position = positions[partition], position < state.logStart(partition.topic, partition.partition) {
                            positions[partition] = resetPosition(partition)
                        }
                        let stable = state.visibleEnd(partition.topic, partition.partition, conf.isolation)
                        guard let position = positions[partition], position < stable else { continue }
                        let seen = state.visible(partition.topic, partition.partition, from: position, to: stable, conf.isolation)
                        guard let first = seen.first, let last = seen.last else {
                            // Only messages of aborted transactions: skipped, as the real consumer does.
                            positions[partition] = stable
                            continue
                        }
                        let taken = batch ? seen : [first]
                        let after = (batch ? last.offset : first.offset) + 1
                        positions[partition] = batch ? stable : after
                        handedOut[partition] = after
                        return .messages(taken)
                    }
                    if conf.retryLimit != -1 { return .empty }
                    state.condition.wait()
                }
            }
            switch read {
            case .messages(let messages): return messages
            case .events(let events): deliver(events)
            case .cancelled: throw CancellationError()
            case .empty:
                emptyReads += 1
                clock.sleep(for: conf.retryWait)
                if emptyReads > conf.retryLimit { throw KafkaError.noData }
            }
        }
    }
}

extension GroupConsumerConf {
    /// The checks of the real client's `validate()` that the double needs.
    func validateForMocks() throws(KafkaError) {
        guard !group.isEmpty else { throw .invalidConfiguration("GroupConsumerConf.group is empty; name the consumer group") }
        guard !topics.isEmpty else {
            throw .invalidConfiguration("GroupConsumerConf.topics is empty; name at least one topic to subscribe to")
        }
        guard retryLimit >= -1 else {
            throw .invalidConfiguration("GroupConsumerConf.retryLimit is \(retryLimit); use -1 for no limit or a count of 0 or more")
        }
    }
}

/// A flag an `async` read's cancellation handler sets and its reading thread checks.
final class ReadCancellation: Sendable {
    private let flag = Mutex(false)
    var isCancelled: Bool { flag.withLock { $0 } }
    func cancel() { flag.withLock { $0 = true } }
}

extension MockGroupConsumer: ProcessableConsumer {}
