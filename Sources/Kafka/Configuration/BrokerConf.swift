/// Settings of a ``Broker``, with Go's `NewBrokerConf` defaults.
///
/// Every field of Go's `BrokerConf` exists here; `properties` passes any other
/// librdkafka setting (TLS, SASL, tuning) through, validated at dial time with
/// librdkafka's own error text.
public struct BrokerConf: Sendable {
    /// Sent to the brokers as `client.id`. Default `"swift-kafka"`.
    public var clientID: String
    /// Timeout of one dial attempt: how long a metadata fetch may take to
    /// connect (librdkafka `socket.connection.setup.timeout.ms`). Default 10 s.
    public var dialTimeout: Duration = .seconds(10)
    /// Number of metadata attempts ``Broker/dial(_:conf:)-358i1`` makes before failing. Default 10; must be at least 1.
    public var dialRetryLimit: Int = 10
    /// Wait between dial attempts. Default 500 ms.
    public var dialRetryWait: Duration = .milliseconds(500)
    /// Number of metadata refreshes made to find an unknown topic or
    /// partition before an operation gives up with `unknownTopicOrPartition`.
    /// Default 10; valid range 1...`Int.max`: below 1, dial throws
    /// `KafkaError.invalidConfiguration(_:)`. With `leaderRetryWait` it also bounds how long
    /// librdkafka keeps a produced message waiting for a leader (`message.timeout.ms`); that
    /// product saturates at `Int32.max` ms (about 24.8 days) instead of overflowing.
    public var leaderRetryLimit: Int = 10
    /// Wait between those refreshes. Default 500 ms; valid range zero and up (any length:
    /// waits go through ``clock``, and past `Int32.max` ms the message timeout saturates as above).
    /// A negative wait makes dial throw `KafkaError.invalidConfiguration(_:)`.
    public var leaderRetryWait: Duration = .milliseconds(500)
    /// Attempts made by ``Broker/offsetEarliest(_:partition:)-6c2vp`` and
    /// ``Broker/offsetLatest(_:partition:)-4nxqk`` on transient errors. Default 10; must be at least 1.
    public var retryErrLimit: Int = 10
    /// Wait between those attempts. Default 500 ms.
    public var retryErrWait: Duration = .milliseconds(500)
    /// When true, an unknown topic is asked for by name in a Metadata
    /// request, which makes a broker with auto-creation enabled create it.
    /// Default false: unknown topics are an error and are never created as a side effect.
    public var allowTopicCreation: Bool = false
    /// Socket read timeout for broker requests (librdkafka `socket.timeout.ms`). Default 30 s.
    public var readTimeout: Duration = .seconds(30)
    /// Receives the broker's log lines and librdkafka's. Default: discards everything.
    public var logger: any KafkaLogger = NullKafkaLogger()
    /// The clock every retry wait goes through. Default: the system clock.
    public var clock: any RetryClock = SystemRetryClock()
    /// Raw librdkafka properties applied to every handle the broker creates,
    /// after the fields above (so they win). Default empty.
    public var properties: [String: String] = [:]
    /// TLS for every broker connection; nil (the default) is plaintext. Applied before
    /// ``properties``, which can still override single librdkafka settings.
    public var tls: TLSConfiguration? = nil
    /// SASL authentication; nil (the default) is none. With ``tls`` it runs over TLS.
    public var sasl: SASLConfiguration? = nil

    /// Creates a configuration with Go's defaults and the given client id.
    public init(clientID: String = "swift-kafka") {
        self.clientID = clientID
    }

    func validate() throws(KafkaError) {
        _ = try securityProperties()
        try requireAtLeastOne(dialRetryLimit, "BrokerConf.dialRetryLimit")
        try requireAtLeastOne(leaderRetryLimit, "BrokerConf.leaderRetryLimit")
        try requireAtLeastOne(retryErrLimit, "BrokerConf.retryErrLimit")
        try requirePositive(dialTimeout, "BrokerConf.dialTimeout")
        try requirePositive(readTimeout, "BrokerConf.readTimeout")
        try requireNotNegative(dialRetryWait, "BrokerConf.dialRetryWait")
        try requireNotNegative(leaderRetryWait, "BrokerConf.leaderRetryWait")
        try requireNotNegative(retryErrWait, "BrokerConf.retryErrWait")
    }
}

func requireAtLeastOne(_ value: Int, _ field: String) throws(KafkaError) {
    guard value >= 1 else {
        throw .invalidConfiguration("\(field) is \(value); it counts attempts and must be at least 1")
    }
}

func requirePositive(_ value: Duration, _ field: String) throws(KafkaError) {
    guard value > .zero else {
        throw .invalidConfiguration("\(field) is \(value); it must be positive")
    }
}

func requireNotNegative(_ value: Duration, _ field: String) throws(KafkaError) {
    guard value >= .zero else {
        throw .invalidConfiguration("\(field) is \(value); it must not be negative")
    }
}

extension BrokerConf: CustomReflectable {
    /// Every field, with raw ``properties`` that can hold secrets masked (``tls`` and ``sasl``
    /// hold their secrets as ``Secret``, which reflects without its value).
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "clientID": clientID, "dialTimeout": dialTimeout, "dialRetryLimit": dialRetryLimit,
                "dialRetryWait": dialRetryWait, "leaderRetryLimit": leaderRetryLimit, "leaderRetryWait": leaderRetryWait,
                "retryErrLimit": retryErrLimit, "retryErrWait": retryErrWait, "allowTopicCreation": allowTopicCreation,
                "readTimeout": readTimeout, "logger": logger, "clock": clock, "properties": redactedForReflection(properties),
                "tls": tls as Any, "sasl": sasl as Any,
            ],
            displayStyle: .struct
        )
    }
}
