import Crdkafka
import KafkaProto
import Synchronization

/// Decides which messages a group member's fetch may hand out after rebalances, pauses and
/// seeks ran during it, so that a member hands every message out and none twice on its own.
///
/// Two things can make a taken message wrong to hand out:
/// - **Its partition was revoked (or lost) while the fetch ran** (the rebalance callback runs
///   inside the fetch). The new owner starts from the committed offset, which covers only what
///   this member handed out; handing the rest out too would process them twice. Dropping them
///   loses nothing: they were never handed out, so nothing committed passes them.
/// - **It repeats the message taken just before it from its partition.** librdkafka 2.0.x marks
///   a message consumed just after popping it (`rd_kafka_consume0`); a pause (librdkafka pauses
///   every partition at each rebalance) that lands between the two saves the message's own offset
///   as the place to resume, so that one message is fetched again after the resume. Only an exact
///   repeat of the last offset taken is dropped; a seek or a new assignment of the partition
///   forgets the last offset first, so a deliberate rewind is always handed out.
///
/// Used by the one fetch holding the consumer's fetch lock, by the rebalance callback (which runs
/// inside that fetch) and by ``GroupHandle/seek(_:to:timeout:)`` from any thread: its state is a `Mutex`.
final class GroupDeliveryFilter: Sendable {
    private struct State {
        /// The offset of the last message taken per partition.
        var lastTaken: [TopicPartition: Int64] = [:]
        /// Partitions revoked or lost since the fetch began.
        var revoked: Set<TopicPartition> = []
        /// Counts seeks, so a fetch can tell one ran during it.
        var seeks: UInt64 = 0
    }

    private let state = Mutex(State())
    /// Counts rebalance callbacks; read after every message a fetch takes, so an atomic.
    private let rebalances = Atomic<UInt64>(0)

    /// Where a fetch began: the counts it compares against.
    struct Mark {
        fileprivate let seeks: UInt64
        fileprivate let rebalances: UInt64
    }

    /// Called by a fetch before it takes messages.
    func beginFetch() -> Mark {
        state.withLock { state in
            state.revoked.removeAll(keepingCapacity: true)
            return Mark(seeks: state.seeks, rebalances: rebalances.load(ordering: .relaxed))
        }
    }

    /// Whether a rebalance callback ran since `mark` (on the fetching thread itself: the callback runs inside the fetch).
    func rebalanced(since mark: Mark) -> Bool {
        rebalances.load(ordering: .relaxed) != mark.rebalances
    }

    /// A rebalance gave or took `partitions`: either way their history here no longer applies.
    func rebalanced(_ kind: RebalanceKind, _ partitions: [TopicPartition]) {
        state.withLock { state in
            for partition in partitions { state.lastTaken[partition] = nil }
            if kind != .assigned { state.revoked.formUnion(partitions) }
        }
        rebalances.add(1, ordering: .relaxed)
    }

    /// A seek moved `partition`: its next message may legitimately repeat an earlier offset.
    func sought(_ partition: TopicPartition) {
        state.withLock { state in
            state.seeks &+= 1
            state.lastTaken[partition] = nil
        }
    }

    /// Frees, and sets to nil, the messages among the first `count` of `messages` that must not be
    /// handed out, and remembers the last offset taken per partition.
    /// - Parameters:
    ///   - since: what ``beginFetch()`` returned. When a seek ran meanwhile, a taken message may
    ///     predate the seek, so nothing of this fetch is remembered (nothing is dropped as a repeat).
    ///   - staleBefore: the messages `0..<staleBefore` were taken before the fetch's rebalance (if
    ///     any): those of revoked partitions are dropped. Later ones were checked by librdkafka
    ///     against the partitions' state after it.
    func filter(
        _ messages: UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>, count: Int, since: Mark,
        staleBefore: Int, topicName: (OpaquePointer?) -> String
    ) {
        state.withLock { state in
            let sought = state.seeks != since.seeks
            if sought { state.lastTaken.removeAll(keepingCapacity: true) }
            // Messages come in runs per partition: the dictionary is read once per run.
            var runTopic: OpaquePointer?
            var runPartition: Int32 = -1
            var runKey: TopicPartition?
            var runRevoked = false
            var last: Int64?
            for index in 0..<count {
                guard let pointer = messages[index] else { continue }
                let raw = pointer.pointee
                guard raw.err == RD_KAFKA_RESP_ERR_NO_ERROR else { continue }
                if raw.rkt != runTopic || raw.partition != runPartition {
                    if let runKey, !sought { state.lastTaken[runKey] = last }
                    runTopic = raw.rkt
                    runPartition = raw.partition
                    let key = TopicPartition(topicName(raw.rkt), raw.partition)
                    runKey = key
                    runRevoked = state.revoked.contains(key)
                    last = sought ? nil : state.lastTaken[key]
                }
                if (runRevoked && index < staleBefore) || raw.offset == last {
                    rd_kafka_message_destroy(pointer)
                    messages[index] = nil
                    continue
                }
                last = raw.offset
            }
            if let runKey, !sought { state.lastTaken[runKey] = last }
        }
    }
}
