import Synchronization

/// The next offset after the last message a group member handed out, per partition: what it
/// stored for commit, kept on the Swift side so that a transaction can send exactly those offsets
/// (librdkafka 2.0.2 cannot read stored offsets back). Written by the fetch that stores, pruned
/// by the rebalance callback, read by any thread: a `Mutex`.
final class HandedOutOffsets: Sendable {
    private let offsets = Mutex<[TopicPartition: Int64]>([:])

    /// Records `stored` (next offsets per partition).
    func record(_ stored: [TopicPartition: Int64]) {
        offsets.withLock { offsets in
            for (partition, offset) in stored { offsets[partition] = offset }
        }
    }

    /// Forgets `partitions` (revoked, lost, newly assigned or rewound: what this member handed
    /// out of them before no longer says where the group stands).
    func forget(_ partitions: [TopicPartition]) {
        offsets.withLock { offsets in
            for partition in partitions { offsets[partition] = nil }
        }
    }

    /// The offsets of `partitions`, where something was handed out.
    func offsets(of partitions: Set<TopicPartition>) -> [TopicPartition: Int64] {
        offsets.withLock { $0.filter { partitions.contains($0.key) } }
    }
}
