/// What makes two producers need different librdkafka handles: the settings
/// librdkafka applies once per handle and topic.
struct ProducerSettings: Hashable {
    let requiredAcks: Int16
    let compression: Compression
    let requestTimeoutMilliseconds: Int32
    let properties: [String: String]

    init(_ conf: ProducerConf) {
        requiredAcks = conf.requiredAcks.rawValue
        compression = conf.compression
        requestTimeoutMilliseconds = max(1, conf.requestTimeout.milliseconds)
        properties = conf.properties
    }

    /// librdkafka properties of a producer handle with these settings.
    ///
    /// librdkafka's own retries are off (the Swift retry loop of the
    /// producer counts Go's attempts through the injectable clock), unless
    /// the caller enables idempotence, which needs them. `linger.ms` is 0 so
    /// a produce call goes out at once, as Go's did; the messages of one call
    /// still travel in one batch. Messages wait at most the leader retry
    /// budget plus the request timeout for a leader before they fail.
    func properties(_ broker: BrokerConf) -> [(String, String)] {
        // Saturating: a huge leaderRetryLimit or leaderRetryWait means "wait very long", never an
        // overflow trap; librdkafka's message.timeout.ms tops out at Int32.max.
        let (budget, overflow) = Int64(broker.leaderRetryWait.milliseconds)
            .multipliedReportingOverflow(by: Int64(clamping: broker.leaderRetryLimit))
        let leaderBudget = overflow ? Int64(Int32.max) : min(budget, Int64(Int32.max))
        let messageTimeout = Int32(clamping: max(1000, Int64(requestTimeoutMilliseconds) + leaderBudget))
        let idempotent = (properties["enable.idempotence"] ?? broker.properties["enable.idempotence"]) == "true"
        var result: [(String, String)] = [
            ("request.required.acks", "\(requiredAcks)"),
            ("compression.codec", compression.librdkafkaName),
            ("request.timeout.ms", "\(requestTimeoutMilliseconds)"),
            ("message.timeout.ms", "\(messageTimeout)"),
            ("linger.ms", "0"),
        ]
        if !idempotent { result.append(("message.send.max.retries", "0")) }
        for key in properties.keys.sorted() { result.append((key, properties[key] ?? "")) }
        return result
    }
}
