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
public final class BrokerConsumer: BatchConsumer, AsyncSequence, @unchecked Sendable {
    // Safe: `buffer`, `deferredError` and `stickyError` are only touched with
    // `fetchLock` held; the partition's queue is owned by `partitionQueue`.
    public typealias Element = Message
    public typealias AsyncIterator = Iterator

    /// The configuration the consumer was created with.
    public let conf: ConsumerConf
    /// The first offset this consumer reads, resolved from `conf.startOffset` at creation.
    public let startOffset: Int64
    let broker: Broker
    let partitionQueue: PartitionQueue
    private let logger: any KafkaLogger
    /// Held while a call takes from the buffer or fetches; a `Mutex`, whose uncontended
    /// lock and unlock are inlined atomics, since every message handed out takes it.
    private let fetchLock = Mutex(())
    private let buffer = FetchBuffer(capacity: PartitionQueue.batchCapacity)
    private var deferredError: KafkaError?
    private var stickyError: KafkaError?

    init(broker: Broker, conf: ConsumerConf) throws {
        try conf.validate()
        try broker.requirePartition(conf.topic, conf.partition)
        let start: Int64 = switch conf.startOffset {
        case .oldest: try broker.offsetEarliest(conf.topic, partition: conf.partition)
        case .newest: try broker.offsetLatest(conf.topic, partition: conf.partition)
        case .offset(let value): value
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
        self.logger = conf.logger ?? broker.conf.logger
    }

    deinit {
        close()
    }

    /// Returns the next message of the partition.
    ///
    /// From the local buffer when it holds one; otherwise fetches. An empty
    /// fetch (nothing within `conf.requestTimeout`) is followed by
    /// `conf.retryWait`; after `conf.retryLimit + 1` empty fetches the call
    /// throws ``KafkaError/noData`` (never with `retryLimit` -1). A fetch error is
    /// retried `conf.retryErrLimit` attempts, `conf.retryErrWait` apart.
    ///
    /// - Throws: ``KafkaError/noData``; ``KafkaError/closed`` promptly once the consumer or
    ///   its broker is closed, even while blocked; `offsetOutOfRange` (on this and every later
    ///   call, as Go) when the start offset lies outside the log; the last fetch error.
    public func consume() throws -> Message {
        try fetchLock.withLock { _ in
            try checkOpen()
            if buffer.isEmpty { try fill() }
            return buffer.takeNext()
        }
    }

    /// The `async` twin of ``consume()``, with the same rules. A buffered message is
    /// returned without suspending; waiting for a fetch suspends the task (librdkafka
    /// signals the partition's queue) and parks no thread, so any number of consumers can
    /// wait at once.
    ///
    /// - Throws: as ``consume()``; `CancellationError` promptly when the task is cancelled
    ///   (nothing is lost: a message not handed out stays for the next call).
    nonisolated(nonsending) public func consume() async throws -> Message {
        if let message = takeBufferedWithoutWaiting() { return message }
        return try await fillWaiting { $0.takeNext() }
    }

    /// Returns what ``consume()`` had buffered, or else the messages of one fetch (as soon as
    /// one is there, with the others already arrived; it never waits to fill a batch).
    /// Same retry, ``KafkaError/noData`` and close rules as ``consume()``.
    public func consumeBatch() throws -> [Message] {
        try fetchLock.withLock { _ in
            try checkOpen()
            if buffer.isEmpty { try fill() }
            return buffer.takeAll()
        }
    }

    /// The `async` twin of ``consumeBatch()``: suspends, never blocks a thread, and
    /// throws `CancellationError` promptly when the task is cancelled.
    nonisolated(nonsending) public func consumeBatch() async throws -> [Message] {
        try await fillWaiting { $0.takeAll() }
    }

    /// Runs `body` over the messages of one fetch as views into librdkafka's buffers: no copy
    /// and no allocation per message, for consumers that parse in place. The views are valid
    /// only inside `body`; headers are not read. Same retry, ``KafkaError/noData``, error and
    /// close rules as ``consume()``. Messages ``consume()`` had already fetched come first,
    /// one per call (they are owned copies already).
    /// `body` must not call this consumer (it holds the consumer's fetch lock).
    /// - Throws: as ``consume()``, and whatever `body` throws (the fetch's messages then count as handed out).
    public func withBorrowedBatch<R>(_ body: (BorrowedBatch) throws -> R) throws -> R {
        // The result leaves through a local: `Mutex.withLock` would demand a `sending` result.
        var output: R?
        try fetchLock.withLock { _ in output = try borrowedFill(body) }
        guard let output else { throw KafkaError.closed }
        return output
    }

    /// ``withBorrowedBatch(_:)`` with `fetchLock` held.
    private func borrowedFill<R>(_ body: (BorrowedBatch) throws -> R) throws -> R {
        try checkOpen()
        if !buffer.isEmpty {
            let message = buffer.takeNext()
            return try BorrowedBatch.borrowing(message, body)
        }
        var retries = FetchRetries(conf)
        while true {
            if let stickyError { throw stickyError }
            let outcome: PartitionQueue.BorrowedOutcome<R>
            if let error = deferredError {
                deferredError = nil
                outcome = .failure(error)
            } else {
                outcome = try partitionQueue.fetchBorrowed(timeout: conf.requestTimeout, startOffset: startOffset, body)
            }
            let pause: FetchPause
            switch outcome {
            case .delivered(let result, let deferred):
                deferredError = deferred
                return result
            case .empty:
                pause = try settle(.empty, &retries) ?? .refetch
            case .failure(let error):
                pause = try settle(.failure(error), &retries) ?? .refetch
            }
            pause.apply(broker.conf.clock)
            if partitionQueue.isClosed { throw KafkaError.closed }
            try retries.checkLimit()
        }
    }

    /// Iterates with the `async` ``consume()``; ends at ``KafkaError/noData``, throws every other error.
    public func makeAsyncIterator() -> Iterator {
        Iterator(self)
    }

    /// Stops reading this consumer's partition (other consumers of the broker go on);
    /// blocked and later calls throw ``KafkaError/closed``. Idempotent.
    public func close() {
        partitionQueue.close()
        broker.retireIfUnused(partitionQueue.handle)
    }

    /// The next buffered message, or nil when the buffer is empty, the consumer closed, or another call holds it.
    @usableFromInline
    func takeBufferedWithoutWaiting() -> Message? {
        fetchLock.withLockIfAvailable { _ in buffer.isEmpty || partitionQueue.isClosed ? nil : buffer.takeNext() } ?? nil
    }

    /// Close is final: once closed, no call hands out what was already fetched.
    private func checkOpen() throws(KafkaError) {
        if partitionQueue.isClosed { throw .closed }
    }

    /// Refills the buffer, applying Go's retry rules. Called with `fetchLock` held.
    private func fill() throws {
        var retries = FetchRetries(conf)
        while true {
            let outcome: PartitionQueue.FetchOutcome
            if let stickyError { throw stickyError }
            if let error = deferredError {
                deferredError = nil
                outcome = .failure(error)
            } else {
                outcome = try partitionQueue.fetch(
                    timeout: conf.requestTimeout, into: buffer, readsHeaders: conf.readsHeaders, startOffset: startOffset
                )
            }
            guard let pause = try settle(outcome, &retries) else { return }
            pause.apply(broker.conf.clock)
            if partitionQueue.isClosed { throw KafkaError.closed }
            try retries.checkLimit()
        }
    }

    /// What one step of an `async` fill found.
    private enum Step<Value> {
        case ready(Value)
        case waitForMessages
        case retryAfter(FetchPause)
        /// Another call holds the buffer (a blocking consume is fetching).
        case busy
    }

    /// The `async` fill: non-blocking fetches under `fetchLock`, and suspensions (never
    /// holding the lock) until librdkafka signals the queue, the fetch wait passes, or a
    /// retry wait passes; then `take` hands out from the buffer. It runs on the caller's executor,
    /// as `consume()` does: fetched messages are then allocated on the thread that will free them
    /// (run on the global executor instead, a `for try await` loop on an actor made the two threads
    /// contend for malloc's arena lock, and hopped threads per fetch).
    nonisolated(nonsending) private func fillWaiting<Value>(_ take: (FetchBuffer) -> Value) async throws -> Value {
        var retries = FetchRetries(conf)
        while true {
            try Task.checkCancellation()
            let step: Step<Value> = try fetchLock.withLockIfAvailable { _ throws -> Step<Value> in
                try checkOpen()
                if !buffer.isEmpty { return .ready(take(buffer)) }
                if let stickyError { throw stickyError }
                let outcome: PartitionQueue.FetchOutcome
                if let error = deferredError {
                    deferredError = nil
                    outcome = .failure(error)
                } else {
                    outcome = try partitionQueue.fetch(timeout: .zero, into: buffer, readsHeaders: conf.readsHeaders, startOffset: startOffset)
                }
                if case .empty = outcome { return .waitForMessages }
                guard let pause = try settle(outcome, &retries) else { return .ready(take(buffer)) }
                return .retryAfter(pause)
            } ?? .busy
            switch step {
            case .ready(let value):
                return value
            case .busy:
                _ = try await partitionQueue.signal.wait(timeout: .milliseconds(5)) { false }
            case .waitForMessages:
                let queue = partitionQueue
                if try await queue.signal.wait(timeout: conf.requestTimeout, hasMessages: queue.hasMessages) { continue }
                // Nothing within the fetch wait: an empty fetch, in Go's terms, when the partition is caught up.
                try await emptyWait(&retries).apply(broker.conf.clock)
                if partitionQueue.isClosed { throw KafkaError.closed }
                try retries.checkLimit()
            case .retryAfter(let pause):
                try await pause.apply(broker.conf.clock)
                if partitionQueue.isClosed { throw KafkaError.closed }
                try retries.checkLimit()
            }
        }
    }

    /// A wait that brought nothing: counted as an empty fetch (and followed by `retryWait`) only
    /// when the partition is caught up; otherwise its data is on its way and the next fetch
    /// starts at once.
    private func emptyWait(_ retries: inout FetchRetries) -> FetchPause {
        partitionQueue.isCaughtUp(from: startOffset) ? .sleep(retries.recordEmpty()) : .refetch
    }

    /// Applies one fetch outcome to the retry count: nil when messages arrived, else how long
    /// to wait before fetching again. Throws the error that ends the call.
    private func settle(_ outcome: PartitionQueue.FetchOutcome, _ retries: inout FetchRetries) throws -> FetchPause? {
        switch outcome {
        case .messages(let deferred):
            deferredError = deferred
            return nil
        case .empty:
            return emptyWait(&retries)
        case .failure(let error):
            if error.errorCode == .offsetOutOfRange {
                stickyError = error
                throw error
            }
            let wait = try retries.recordFailure(error)
            logger.debug("fetch failed", [("topic", conf.topic), ("attempt", "\(retries.failedAttempts)"), ("error", error.description)])
            return .sleep(wait)
        }
    }

}
