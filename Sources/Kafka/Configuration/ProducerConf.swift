/// Settings of a producer, with Go's `NewProducerConf` defaults.
public struct ProducerConf: Sendable {
    /// Codec for message batches. Default `Compression.none`.
    public var compression: Compression = .none
    /// How long the broker may take to reach `requiredAcks` (librdkafka
    /// `request.timeout.ms`, the broker-side ack timeout as in Go). Default 5 s.
    ///
    /// Also bounds a whole call: a message gets this long plus the broker's leader
    /// retry budget (`BrokerConf.leaderRetryLimit × leaderRetryWait`, Go's wait for a
    /// leader) to be acknowledged (librdkafka's `message.timeout.ms`); after that the
    /// call throws librdkafka's "message timed out" without another attempt. With
    /// every broker down a call therefore fails within
    /// `requestTimeout + leaderRetryLimit × leaderRetryWait + 1 s` (11 s with the defaults).
    public var requestTimeout: Duration = .seconds(5)
    /// Acknowledgement level. Default `RequiredAcks.all`, as Go's `NewProducerConf`.
    public var requiredAcks: RequiredAcks = .all
    /// Total number of attempts of one `produce` call, not retries (as Go).
    /// Only transient errors the broker reports back are retried (not enough
    /// replicas, request timed out, disconnects); a permanent error such as
    /// `messageSizeTooLarge` is thrown at once, where Go would retry it too.
    /// Leader changes do not use up attempts: librdkafka re-sends to the new
    /// leader by itself (so five not-leader answers in a row can succeed with
    /// `retryLimit` 3), within the message timeout described at
    /// ``requestTimeout``. Default 10; must be at least 1.
    public var retryLimit: Int = 10
    /// Wait before every attempt but the first. Default 200 ms.
    public var retryWait: Duration = .milliseconds(200)
    /// Receives this producer's log lines; `nil` (the default) uses the broker's logger.
    public var logger: (any KafkaLogger)? = nil
    /// Raw librdkafka properties for this producer's handle, applied after the
    /// broker's. Producers whose settings differ get their own handle, since
    /// librdkafka applies a topic's settings once per handle. Default empty.
    ///
    /// `linger.ms` is 0 unless set here. With a linger, every blocking or awaited call waits
    /// it out before its messages are sent (calls of 1000 at 5 ms: about 170 k msgs/s, raw C the
    /// same): each call waits for its own acknowledgements. librdkafka 2.0.2 has no way for one
    /// call to send its messages at once: `rd_kafka_flush` ignores the linger only while it
    /// runs and waits for every message of the handle, so concurrent calls would wait for each
    /// other. A linger helps only many concurrent calls; one caller is fastest with 0.
    public var properties: [String: String] = [:]

    /// Creates a configuration with Go's defaults.
    public init() {}

    func validate() throws(KafkaError) {
        try requireAtLeastOne(retryLimit, "ProducerConf.retryLimit")
        try requirePositive(requestTimeout, "ProducerConf.requestTimeout")
        try requireNotNegative(retryWait, "ProducerConf.retryWait")
        if case .count(let n) = requiredAcks, n < 2 {
            throw .invalidConfiguration("ProducerConf.requiredAcks count \(n) is not a replica count; use .none, .local or .all")
        }
    }
}
