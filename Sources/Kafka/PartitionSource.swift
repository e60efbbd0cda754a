/// A ``BrokerConsumer``'s ``FetchSource``: its partition's queue, read from the start offset.
final class PartitionSource: FetchSource {
    let queue: PartitionQueue
    let startOffset: Int64
    private let logger: any KafkaLogger

    init(queue: PartitionQueue, startOffset: Int64, logger: any KafkaLogger) {
        self.queue = queue
        self.startOffset = startOffset
        self.logger = logger
    }

    var signal: QueueSignal { queue.signal }
    var isClosed: Bool { queue.isClosed }
    func hasMessages() -> Bool { queue.hasMessages() }
    func isCaughtUp() -> Bool { queue.isCaughtUp(from: startOffset) }
    func prepareFetch(_ buffer: FetchBuffer, borrowing: Bool) {}

    func fetch(timeout: Duration, into buffer: FetchBuffer, readsHeaders: Bool) throws -> PartitionQueue.FetchOutcome {
        try queue.fetch(timeout: timeout, into: buffer, readsHeaders: readsHeaders, startOffset: startOffset)
    }

    func fetchBorrowed<R>(timeout: Duration, _ body: (BorrowedBatch) throws -> R) throws -> PartitionQueue.BorrowedOutcome<R> {
        try queue.fetchBorrowed(timeout: timeout, startOffset: startOffset, body)
    }

    /// As in Go, a start offset outside the log fails this and every later read.
    func isFinal(_ error: KafkaError) -> Bool { error.errorCode == .offsetOutOfRange }

    func logRetry(_ error: KafkaError, attempt: Int) {
        logger.debug("fetch failed", [("topic", queue.topic), ("attempt", "\(attempt)"), ("error", error.description)])
    }
}
