import Synchronization

/// A consumer of one partition bound to a ``Broker``: Go's `broker.Consumer(conf)`.
///
/// Consumers of one broker with equal fetch settings (`requestTimeout`,
/// `minFetchSize`, `maxFetchSize`, `properties`) share one librdkafka consumer
/// handle (no consumer group): its threads, connections and fetch requests. Each
/// reads its partition through its own queue from the start offset resolved at
/// creation; closing one stops only its partition. Fetched messages arrive in
/// batches of up to 1,000 and are handed out one at a time from a local buffer,
/// in partition order, with no gaps or repeats. librdkafka's own log lines of a
/// shared handle go to the broker's logger.
public final class BrokerConsumer: BatchConsumer, AsyncSequence, Sendable {
    public typealias Element = Message
    public typealias AsyncIterator = Iterator

    /// The configuration the consumer was created with.
    public let conf: ConsumerConf
    /// The first offset this consumer reads, resolved from `conf.startOffset` at creation.
    public let startOffset: Int64
    let broker: Broker
    let partitionQueue: PartitionQueue
    /// The buffer, the fetch lock and every read, over this consumer's partition queue.
    private let reader: ConsumerReader<PartitionSource>

    init(broker: Broker, conf: ConsumerConf) throws {
        try conf.validate()
        try broker.requirePartition(conf.topic, conf.partition)
        let start: Int64 = if let time = conf.startTime {
            try broker.offset(at: time, topic: conf.topic, partition: conf.partition)
        } else {
            switch conf.startOffset {
            case .oldest: try broker.offsetEarliest(conf.topic, partition: conf.partition)
            case .newest: try broker.offsetLatest(conf.topic, partition: conf.partition)
            case .offset(let value): value
            }
        }
        let handle = try broker.consumerHandle(ConsumerSettings(conf), for: conf.topic, conf.partition)
        do {
            partitionQueue = try PartitionQueue(handle: handle, topic: conf.topic, partition: conf.partition, start: start)
        } catch {
            handle.release(conf.topic, conf.partition)
            throw error
        }
        self.broker = broker
        self.conf = conf
        self.startOffset = start
        let source = PartitionSource(queue: partitionQueue, startOffset: start, logger: conf.logger ?? broker.conf.logger)
        reader = ConsumerReader(
            source: source, capacity: PartitionQueue.batchCapacity,
            settings: ReadSettings(window: conf.requestTimeout, readsHeaders: conf.readsHeaders, clock: broker.conf.clock, machine: FetchMachine(conf))
        )
    }

    deinit {
        close()
    }

    /// Returns the next message of the partition.
    ///
    /// From the local buffer when it holds one; otherwise fetches. An empty
    /// fetch (nothing within `conf.requestTimeout`) is followed by
    /// `conf.retryWait`; after `conf.retryLimit + 1` empty fetches the call
    /// throws `KafkaError.noData` (never with `retryLimit` -1). A fetch error is
    /// retried `conf.retryErrLimit` attempts, `conf.retryErrWait` apart.
    ///
    /// - Throws: `KafkaError.noData`; `KafkaError.closed` promptly once the consumer or
    ///   its broker is closed, even while blocked; `offsetOutOfRange` (on this and every later
    ///   call, as Go) when the start offset lies outside the log; the last fetch error.
    public func consume() throws -> Message {
        try reader.next()
    }

    /// The `async` twin of ``consume()``, with the same rules. A buffered message is
    /// returned without suspending; waiting for a fetch suspends the task (librdkafka
    /// signals the partition's queue) and parks no thread, so any number of consumers can
    /// wait at once.
    ///
    /// - Throws: as ``consume()``; `CancellationError` promptly when the task is cancelled
    ///   (nothing is lost: a message not handed out stays for the next call).
    nonisolated(nonsending) public func consume() async throws -> Message {
        try await reader.next()
    }

    /// Returns what ``consume()-yiqi`` had buffered, or else the messages of one fetch (as soon as
    /// one is there, with the others already arrived; it never waits to fill a batch).
    /// Same retry, `KafkaError.noData` and close rules as ``consume()-yiqi``.
    public func consumeBatch() throws -> [Message] {
        try reader.batch()
    }

    /// The `async` twin of ``consumeBatch()``: suspends, never blocks a thread, and
    /// throws `CancellationError` promptly when the task is cancelled.
    nonisolated(nonsending) public func consumeBatch() async throws -> [Message] {
        try await reader.batch()
    }

    /// Runs `body` over the messages of one fetch as views into librdkafka's buffers: no copy
    /// and no allocation per message, for consumers that parse in place. The views are valid
    /// only inside `body`; headers are not read. Same retry, `KafkaError.noData`, error and
    /// close rules as ``consume()-yiqi``. Messages ``consume()-yiqi`` had already fetched come first,
    /// one per call (they are owned copies already).
    /// `body` must not call this consumer (it holds the consumer's fetch lock).
    /// - Throws: as ``consume()-yiqi``, and whatever `body` throws (the fetch's messages then count as handed out).
    public func withBorrowedBatch<R>(_ body: (BorrowedBatch) throws -> R) throws -> R {
        try reader.borrowing(body)
    }

    /// Iterates with the `async` ``consume()-6yqd7``; ends at `KafkaError.noData`, throws every other error.
    public func makeAsyncIterator() -> Iterator {
        Iterator(self)
    }

    /// Stops reading this consumer's partition (other consumers of the broker go on);
    /// blocked and later calls throw `KafkaError.closed`. Idempotent.
    public func close() {
        partitionQueue.close()
        broker.retireIfUnused(partitionQueue.handle)
    }

    /// The next buffered message, or nil when the buffer is empty, the consumer closed, or another call holds it.
    @usableFromInline
    func takeBufferedWithoutWaiting() -> Message? {
        reader.takeBufferedWithoutWaiting()
    }
}
