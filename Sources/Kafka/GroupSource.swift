/// A ``GroupConsumer``'s ``FetchSource``: the member's consumer queue, and the partition and
/// offset of every message of the current fetch, so what was handed out can be stored for commit.
final class GroupSource: FetchSource, @unchecked Sendable {
    // Safe: `positions` is touched only by the member's ``ConsumerReader`` with its fetch lock held.
    let native: GroupHandle
    private let group: String
    private let logger: any KafkaLogger
    /// Topic, partition and offset of every message of the current fetch, in buffer order.
    private var positions: [TopicPartitionOffset] = []

    init(native: GroupHandle, group: String, logger: any KafkaLogger) {
        self.native = native
        self.group = group
        self.logger = logger
        positions.reserveCapacity(GroupHandle.batchCapacity)
    }

    var signal: QueueSignal { native.signal }
    var isClosed: Bool { native.handle.isClosed }
    func hasMessages() -> Bool { native.hasMessages() }
    /// Caught up unless an assigned partition is known to hold data beyond this member's position.
    func isCaughtUp() -> Bool { !native.hasUnreadData() }

    /// Stores what was handed out; before a borrowing fetch also forgets the owned fill, or a later
    /// store would rewind what the borrowed batches store (librdkafka keeps the last offset
    /// stored, not the highest).
    func prepareFetch(_ buffer: FetchBuffer, borrowing: Bool) throws {
        try storeHandedOut(buffer)
        if borrowing {
            buffer.reset()
            positions.removeAll(keepingCapacity: true)
        }
    }

    /// Stores the offsets of the messages of the current fetch that were handed out.
    func storeHandedOut(_ buffer: FetchBuffer) throws {
        let handedOut = buffer.handedOutCount
        guard handedOut > 0 else { return }
        var next: [TopicPartition: Int64] = [:]
        for position in positions.prefix(handedOut) {
            next[TopicPartition(position.topic, position.partition)] = position.offset + 1
        }
        try native.store(next)
    }

    /// Drops what the current fetch holds and has not handed out (``FetchBuffer/discardRemaining()``
    /// does the buffer), for a rewind; with the fetch lock held.
    func discardFetched(_ buffer: FetchBuffer) throws {
        try storeHandedOut(buffer)
        buffer.discardRemaining()
        buffer.reset()
        positions.removeAll(keepingCapacity: true)
        native.destroyPending()
    }

    func fetch(timeout: Duration, into buffer: FetchBuffer, readsHeaders: Bool) throws -> PartitionQueue.FetchOutcome {
        try native.fetch(timeout: timeout, into: buffer, positions: &positions, readsHeaders: readsHeaders)
    }

    func fetchBorrowed<R>(timeout: Duration, _ body: (BorrowedBatch) throws -> R) throws -> PartitionQueue.BorrowedOutcome<R> {
        try native.fetchBorrowed(timeout: timeout, body)
    }

    func isFinal(_ error: KafkaError) -> Bool { false }

    func logRetry(_ error: KafkaError, attempt: Int) {
        logger.debug("group fetch failed", [("group", group), ("attempt", "\(attempt)"), ("error", error.description)])
    }
}
