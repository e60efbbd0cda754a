/// Settings of a ``ProcessingLoop``: how many messages are handled at once, which of them must
/// wait for each other, how much may be buffered, and what a failed handler leads to.
public struct ProcessingConf: Sendable {
    /// Which messages are handled one after another.
    public enum Ordering: Sendable, Hashable {
        /// Messages of one partition with equal keys, in offset order; messages without a key
        /// are unordered. The default.
        case perKey
        /// Messages of one partition, in offset order (one at a time per partition).
        case perPartition
        /// No order: any message may run beside any other.
        case none
    }

    /// What a handler that throws leads to.
    public enum FailurePolicy: Sendable, Hashable {
        /// The loop stops and ``ProcessingLoop/run()`` rethrows the handler's error; nothing after
        /// the failed message's offset is committed.
        case stop
        /// The handler is called again up to `attempts` times in all, waiting `backoff` (doubled
        /// after each attempt) through ``ProcessingConf/clock``; then `then` applies.
        case retry(attempts: Int, backoff: Duration, then: Exhausted)
    }

    /// What happens to a message whose retries are exhausted.
    public enum Exhausted: Sendable, Hashable {
        /// The loop stops, rethrowing the last error.
        case stop
        /// The message is sent to this topic (same key, value and headers, plus `kafka.dlq.topic`,
        /// `kafka.dlq.partition`, `kafka.dlq.offset` and `kafka.dlq.error` headers) and counts as handled.
        case deadLetter(topic: String)
    }

    /// Messages handled at once at most. Default 16; at least 1.
    public var concurrency = 16
    /// Default ``Ordering/perKey``.
    public var ordering: Ordering = .perKey
    /// Messages buffered (waiting or being handled) at most; the loop stops reading while full.
    /// Default 1,000; at least `concurrency`.
    public var maxBufferedMessages = 1000
    /// Bytes of buffered messages' keys and values at most. Default 64 MiB.
    public var maxBufferedBytes = 64 << 20
    /// Messages of one partition waiting at most before the partition is paused (resumed when half
    /// of them have been handled), so that one slow key holds back its partition, not the others.
    /// Default 250; at least 1.
    public var maxWaitingPerPartition = 250
    /// How often the committable offsets are committed. Default 1 s.
    public var commitInterval: Duration = .seconds(1)
    /// How long a revoke lets the buffered and running messages of its partitions be handled
    /// before it drops and cancels the rest. Default 10 s. Keep it well below the group's rebalance
    /// timeout (librdkafka's `max.poll.interval.ms`, 300 s by default; librdkafka's embedded
    /// cluster takes the session timeout): a member still draining past it is evicted, and its
    /// partitions move while its handlers run.
    public var revokeDeadline: Duration = .seconds(10)
    /// Default: retry 3 attempts from 100 ms, then stop.
    public var failure: FailurePolicy = .retry(attempts: 3, backoff: .milliseconds(100), then: .stop)
    /// Where retry backoffs wait. Default the system clock (a `VirtualClock` from `KafkaTest` in tests).
    public var clock: any RetryClock = SystemRetryClock()

    /// The default settings.
    public init() {}

    /// Checks every field; ``ProcessingLoop`` calls it before it joins the group.
    /// - Throws: `KafkaError.invalidConfiguration(_:)` naming the field and its value.
    public func validate() throws(KafkaError) {
        guard concurrency >= 1 else { throw .invalidConfiguration("ProcessingConf.concurrency is \(concurrency); use at least 1") }
        guard maxBufferedMessages >= concurrency else {
            throw .invalidConfiguration("ProcessingConf.maxBufferedMessages is \(maxBufferedMessages); use at least concurrency (\(concurrency))")
        }
        guard maxBufferedBytes >= 1 else { throw .invalidConfiguration("ProcessingConf.maxBufferedBytes is \(maxBufferedBytes); use at least 1") }
        guard maxWaitingPerPartition >= 1 else {
            throw .invalidConfiguration("ProcessingConf.maxWaitingPerPartition is \(maxWaitingPerPartition); use at least 1")
        }
        guard commitInterval > .zero else { throw .invalidConfiguration("ProcessingConf.commitInterval is \(commitInterval); use more than 0") }
        guard revokeDeadline >= .zero else { throw .invalidConfiguration("ProcessingConf.revokeDeadline is \(revokeDeadline); use 0 or more") }
        if case .retry(let attempts, let backoff, _) = failure {
            guard attempts >= 1 else { throw .invalidConfiguration("ProcessingConf.failure retries \(attempts) attempts; use at least 1") }
            guard backoff >= .zero else { throw .invalidConfiguration("ProcessingConf.failure backoff is \(backoff); use 0 or more") }
        }
    }
}
