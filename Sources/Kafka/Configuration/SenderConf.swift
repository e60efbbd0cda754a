import KafkaProto

/// Settings of a ``Sender``, the service producer: records are handed over at once and their
/// deliveries reported later, through ``DeliveryReceipt``s.
public struct SenderConf: Sendable {
    /// What a send does when the producer's queue (``maxBufferedMessages``, ``maxBufferedBytes``) is full.
    public enum WhenFull: Sendable, Equatable {
        /// Wait for room: a blocking send blocks, an `async` send suspends (and is cancellable).
        case wait
        /// Throw at once: `KafkaError.local` with librdkafka's queue-full code (-184).
        case fail
    }

    /// How a keyed record without an explicit partition is placed. Default `KeyPlacement.murmur2`,
    /// Java's default, so a mixed fleet puts one key on one partition. Records without a key are
    /// placed sticky: one random partition per topic for ``stickyWindow``, then another.
    public var keyPlacement: KeyPlacement = .murmur2
    /// How long keyless records of one topic stay on one partition, so they fill batches. Default 10 ms.
    public var stickyWindow: Duration = .milliseconds(10)
    /// Idempotent production (librdkafka `enable.idempotence`): acknowledgements from all in-sync
    /// replicas and, under retries, no duplicates and no reordering per partition. Default true,
    /// as Java ≥ 3.0 and franz-go.
    public var idempotent: Bool = true
    /// How long librdkafka waits to fill a batch before sending it (`linger.ms`). Default 5 ms.
    public var linger: Duration = .milliseconds(5)
    /// The most records one batch request carries (`batch.num.messages`). Default 10,000.
    public var maxBatchRecords: Int = 10_000
    /// The most records handed over and not yet acknowledged (`queue.buffering.max.messages`). Default 100,000.
    public var maxBufferedMessages: Int = 100_000
    /// The most payload bytes handed over and not yet acknowledged (`queue.buffering.max.kbytes`,
    /// rounded up to whole KiB). Default 64 MiB.
    public var maxBufferedBytes: Int = 64 << 20
    /// What a send does when the queue is full. Default ``WhenFull/wait``.
    public var whenFull: WhenFull = .wait
    /// How long a record may take from its send to its acknowledgement, retries included
    /// (`message.timeout.ms`); past it the receipt fails with librdkafka's timeout. Default 120 s, as Java.
    public var deliveryTimeout: Duration = .seconds(120)
    /// Codec for batches. Default `Compression.none`.
    public var compression: Compression = .none
    /// Called with every record whose delivery failed, awaited or not, on the library's
    /// thread that serves delivery reports: it must return quickly. Default nil: each failure is
    /// logged as an error (with its topic, partition and error, never the record's contents).
    public var onFailure: (@Sendable (DeliveryFailure) -> Void)? = nil
    /// Receives this sender's log lines; `nil` (the default) uses the broker's logger.
    public var logger: (any KafkaLogger)? = nil
    /// Raw librdkafka properties, applied last. Default empty.
    public var properties: [String: String] = [:]

    /// Creates a configuration with the defaults above.
    public init() {}

    func validate() throws(KafkaError) {
        try requireNotNegative(stickyWindow, "SenderConf.stickyWindow")
        try requireNotNegative(linger, "SenderConf.linger")
        try requirePositive(deliveryTimeout, "SenderConf.deliveryTimeout")
        guard (1...1_000_000).contains(maxBatchRecords) else {
            throw .invalidConfiguration("SenderConf.maxBatchRecords must be 1...1000000, got \(maxBatchRecords)")
        }
        guard (1...10_000_000).contains(maxBufferedMessages) else {
            throw .invalidConfiguration("SenderConf.maxBufferedMessages must be 1...10000000, got \(maxBufferedMessages)")
        }
        guard maxBufferedBytes >= 1 && maxBufferedBytes <= Int(Int32.max) << 10 else {
            throw .invalidConfiguration("SenderConf.maxBufferedBytes must be 1 byte to 2 TiB, got \(maxBufferedBytes)")
        }
        guard linger <= .seconds(900) else { throw .invalidConfiguration("SenderConf.linger must be at most 900 s, got \(linger)") }
    }

    /// librdkafka properties of the sender's handle.
    func librdkafkaProperties() -> [(String, String)] {
        var result: [(String, String)] = [
            ("enable.idempotence", idempotent ? "true" : "false"),
            ("linger.ms", "\(linger.milliseconds)"),
            ("batch.num.messages", "\(maxBatchRecords)"),
            ("queue.buffering.max.messages", "\(maxBufferedMessages)"),
            ("queue.buffering.max.kbytes", "\(max(1, (maxBufferedBytes + 1023) / 1024))"),
            ("message.timeout.ms", "\(max(1, Int64(deliveryTimeout.milliseconds)))"),
            ("compression.codec", compression.librdkafkaName),
        ]
        if idempotent { result.append(("acks", "all")) }
        for key in properties.keys.sorted() { result.append((key, properties[key] ?? "")) }
        return result
    }
}

/// A record whose delivery failed, as ``SenderConf/onFailure`` sees it.
public struct DeliveryFailure: Sendable, Error, CustomStringConvertible {
    /// The record's topic.
    public let topic: String
    /// The partition it was placed on.
    public let partition: Int32
    /// Why it was not delivered.
    public let error: KafkaError

    public var description: String { "delivery to \(topic)/\(partition) failed: \(error)" }

    /// A failure, as a sender reports it (made by test doubles too).
    public init(topic: String, partition: Int32, error: KafkaError) {
        self.topic = topic
        self.partition = partition
        self.error = error
    }
}
