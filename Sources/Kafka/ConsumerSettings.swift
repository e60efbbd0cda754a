/// What makes two partition consumers need different librdkafka handles: the fetch
/// settings librdkafka applies once per handle. Consumers of one ``Broker`` with equal
/// settings share a handle (its threads, connections and fetch requests), each
/// partition read through its own queue.
struct ConsumerSettings: Hashable {
    let fetchWaitMilliseconds: Int32
    let minFetchSize: Int32
    let maxFetchSize: Int32
    let isolation: IsolationLevel
    let properties: [String: String]

    init(_ conf: ConsumerConf) {
        fetchWaitMilliseconds = Kafka.fetchWaitMilliseconds(conf.fetchWait, requestTimeout: conf.requestTimeout)
        minFetchSize = conf.minFetchSize
        maxFetchSize = conf.maxFetchSize
        isolation = conf.isolation
        properties = conf.properties
    }

    /// librdkafka properties of a consumer handle with these settings: no group, no
    /// commits, no silent offset reset (a start outside the log is an error, as in Go).
    func properties(_ broker: BrokerConf, seeds: [String]) -> [(String, String)] {
        Broker.baseProperties(seeds, broker) + [
            ("fetch.wait.max.ms", "\(fetchWaitMilliseconds)"),
            ("fetch.min.bytes", "\(minFetchSize)"),
            ("fetch.max.bytes", "\(maxFetchSize)"),
            ("max.partition.fetch.bytes", "\(maxFetchSize)"),
            ("message.max.bytes", "\(min(1_000_000, maxFetchSize))"),
            ("auto.offset.reset", "error"),
            ("enable.partition.eof", "false"),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("isolation.level", isolation.rawValue),
        ] + properties.keys.sorted().map { ($0, properties[$0] ?? "") }
    }
}
