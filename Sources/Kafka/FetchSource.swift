/// Where a ``ConsumerReader`` fetches from: one partition's queue (``BrokerConsumer``) or a group
/// member's consumer queue (``GroupConsumer``). Every method is called by the reader with its
/// fetch lock held, so a source's own mutable state needs no lock of its own.
protocol FetchSource: AnyObject, Sendable {
    /// Fired by librdkafka when the queue gets something; closed with the source.
    var signal: QueueSignal { get }
    /// Whether the source (or its handle) closed: close is final for every read.
    var isClosed: Bool { get }
    /// Whether the queue holds something to read now.
    func hasMessages() -> Bool
    /// Whether a wait that brought nothing is Go's empty fetch: nothing is known to be unread.
    func isCaughtUp() -> Bool
    /// Runs before each new fetch, once what the last fetch brought was handed out (a group
    /// member stores the handed-out offsets for commit). `borrowing`: the fetch hands views over.
    func prepareFetch(_ buffer: FetchBuffer, borrowing: Bool) throws
    /// One fetch: waits up to `timeout` for the first message and appends what came to `buffer`.
    func fetch(timeout: Duration, into buffer: FetchBuffer, readsHeaders: Bool) throws -> PartitionQueue.FetchOutcome
    /// One borrowing fetch: waits up to `timeout` for the first message and runs `body` over views.
    func fetchBorrowed<R>(timeout: Duration, _ body: (BorrowedBatch) throws -> R) throws -> PartitionQueue.BorrowedOutcome<R>
    /// Whether `error` ends this read and every later one (a partition read from outside its log).
    func isFinal(_ error: KafkaError) -> Bool
    /// Logs a fetch that failed and will be retried.
    func logRetry(_ error: KafkaError, attempt: Int)
}
