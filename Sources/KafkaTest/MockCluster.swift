import Crdkafka
import Kafka
import Synchronization

/// An embedded Kafka cluster: librdkafka's mock cluster, speaking the real
/// protocol on loopback ports, so that any client (this library, kcat,
/// kafka-python) can use it. The default target of this package's tests.
///
/// What librdkafka 2.0.2's mock cannot do, and this type therefore cannot
/// either: admin APIs (CreateTopics and friends; use ``createTopic(_:partitions:replicationFactor:)``),
/// moving partition leaders by itself when a broker goes down (use
/// ``failover(topic:partition:to:)``), keeping more than about 5 MiB of log per
/// partition (older data is pruned), answering with arbitrary responses, and
/// message formats before v2. Topics that a client asks for by name in a
/// Metadata request are auto-created with 4 partitions.
public final class MockCluster: @unchecked Sendable {
    // Safe: `host` and `cluster` are immutable after init and freed once, in
    // `close()` under `state`; librdkafka's mock API is thread-safe.
    private let host: OpaquePointer
    private let cluster: OpaquePointer
    /// The bootstrap addresses, "127.0.0.1:port,..." (one per broker).
    public let bootstrapServers: String
    /// Number of brokers; their ids are 1...brokerCount.
    public let brokerCount: Int
    private let state = Mutex(false)

    /// Starts a cluster of `brokers` brokers (default 3) on loopback.
    /// - Throws: ``KafkaError/local(code:message:)`` when librdkafka cannot start it.
    public init(brokers: Int = 3) throws {
        guard brokers >= 1 else { throw KafkaError.invalidArgument("a mock cluster needs at least one broker, got \(brokers)") }
        guard let conf = rd_kafka_conf_new() else { throw KafkaError.local(code: -1, message: "cannot allocate a configuration") }
        var errorText = [CChar](repeating: 0, count: 512)
        _ = rd_kafka_conf_set(conf, "log_level", "3", &errorText, errorText.count)
        // The mock brokers' sockets take their settings from this handle: TCP_NODELAY, as a real broker.
        _ = rd_kafka_conf_set(conf, "socket.nagle.disable", "true", &errorText, errorText.count)
        guard let host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errorText, errorText.count) else {
            rd_kafka_conf_destroy(conf)
            let text = String(decoding: errorText.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw KafkaError.local(code: -1, message: "cannot create the mock cluster's host handle: \(text)")
        }
        guard let cluster = rd_kafka_mock_cluster_new(host, Int32(brokers)) else {
            rd_kafka_destroy(host)
            throw KafkaError.local(code: -1, message: "librdkafka could not start a mock cluster")
        }
        self.host = host
        self.cluster = cluster
        self.brokerCount = brokers
        self.bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
    }

    deinit {
        close()
    }

    /// The bootstrap addresses as a list, for ``Broker/dial(_:conf:)``.
    public var addresses: [String] {
        bootstrapServers.split(separator: ",").map(String.init)
    }

    /// Stops the brokers and frees the cluster. Idempotent; clients still
    /// connected see their connections fail.
    public func close() {
        let first = state.withLock { closed in
            defer { closed = true }
            return !closed
        }
        guard first else { return }
        rd_kafka_mock_cluster_destroy(cluster)
        rd_kafka_destroy(host)
    }

    private func check(_ code: rd_kafka_resp_err_t, _ what: String) throws {
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError.invalidArgument("\(what): \(String(cString: rd_kafka_err2str(code)))")
        }
    }

    private func checkOpen() throws {
        if state.withLock({ $0 }) { throw KafkaError.closed }
    }

    // MARK: - Topics

    /// Creates `topic` with `partitions` partitions and `replicationFactor` replicas (at most the broker count).
    /// - Throws: ``KafkaError/invalidArgument(_:)`` with librdkafka's reason (e.g. the topic exists).
    public func createTopic(_ topic: String, partitions: Int = 1, replicationFactor: Int = 1) throws {
        try checkOpen()
        try check(rd_kafka_mock_topic_create(cluster, topic, Int32(partitions), Int32(replicationFactor)), "cannot create topic \(topic)")
    }

    /// Makes Metadata responses report `error` for `topic` (`nil` clears it).
    public func setTopicError(_ topic: String, _ error: ErrorCode?) throws {
        try checkOpen()
        rd_kafka_mock_topic_set_error(cluster, topic, rd_kafka_resp_err_t(Int32(error?.rawValue ?? 0)))
    }

    // MARK: - Request errors

    /// Makes the next `errors.count` requests of `api`, on any broker, fail
    /// with these codes in order (first in, first out).
    public func failNext(_ api: KafkaAPI, with errors: [ErrorCode]) throws {
        try checkOpen()
        let codes = errors.map { rd_kafka_resp_err_t(Int32($0.rawValue)) }
        rd_kafka_mock_push_request_errors_array(cluster, api.rawValue, codes.count, codes)
    }

    /// Makes the next `count` requests of `api` close their connection instead of answering.
    public func disconnectNext(_ api: KafkaAPI, count: Int = 1) throws {
        try checkOpen()
        let codes = Array(repeating: RD_KAFKA_RESP_ERR__TRANSPORT, count: count)
        rd_kafka_mock_push_request_errors_array(cluster, api.rawValue, codes.count, codes)
    }

    /// Drops queued cluster-wide errors of `api`.
    public func clearErrors(_ api: KafkaAPI) throws {
        try checkOpen()
        rd_kafka_mock_clear_request_errors(cluster, api.rawValue)
    }

    /// Queues per-request answers of `api` on one broker: each entry answers
    /// one request with its error (`nil` for success) after its delay. These
    /// take precedence over ``failNext(_:with:)``.
    public func failNext(_ api: KafkaAPI, on broker: Int32, with answers: [(error: ErrorCode?, delay: Duration)]) throws {
        try checkOpen()
        for answer in answers {
            let code = rd_kafka_resp_err_t(Int32(answer.error?.rawValue ?? 0))
            try check(
                crdkafka_mock_broker_push_request_error_rtt(cluster, broker, api.rawValue, code, Int32(Self.milliseconds(answer.delay))),
                "cannot queue errors on broker \(broker)"
            )
        }
    }

    /// Number of queued per-broker answers of `api` on `broker` not yet used.
    public func pendingErrors(for api: KafkaAPI, on broker: Int32) throws -> Int {
        try checkOpen()
        var count = 0
        try check(rd_kafka_mock_broker_error_stack_cnt(cluster, broker, api.rawValue, &count), "cannot read errors of broker \(broker)")
        return count
    }

    // MARK: - Brokers and partitions

    /// Takes `broker` down (its connections close and it accepts none);
    /// `nil` takes every broker down. Partition leaders do not move.
    public func setDown(broker: Int32?) throws {
        try checkOpen()
        try check(rd_kafka_mock_broker_set_down(cluster, broker ?? -1), "cannot set broker down")
    }

    /// Brings `broker` (or every broker, for `nil`) back up.
    public func setUp(broker: Int32?) throws {
        try checkOpen()
        try check(rd_kafka_mock_broker_set_up(cluster, broker ?? -1), "cannot set broker up")
    }

    /// Delays every answer of `broker` by `rtt`.
    public func setRTT(broker: Int32, _ rtt: Duration) throws {
        try checkOpen()
        try check(rd_kafka_mock_broker_set_rtt(cluster, broker, Int32(Self.milliseconds(rtt))), "cannot set round-trip time")
    }

    /// Sets the rack `broker` advertises.
    public func setRack(broker: Int32, _ rack: String) throws {
        try checkOpen()
        try check(rd_kafka_mock_broker_set_rack(cluster, broker, rack), "cannot set rack")
    }

    /// Moves the leadership of `topic`/`partition` to `broker`; `nil` leaves it without a leader.
    public func setLeader(topic: String, partition: Int32, broker: Int32?) throws {
        try checkOpen()
        try check(rd_kafka_mock_partition_set_leader(cluster, topic, partition, broker ?? -1), "cannot set leader")
    }

    /// Makes `broker` the preferred follower for fetches of `topic`/`partition`.
    public func setFollower(topic: String, partition: Int32, broker: Int32) throws {
        try checkOpen()
        try check(rd_kafka_mock_partition_set_follower(cluster, topic, partition, broker), "cannot set follower")
    }

    /// Sets the watermarks the follower reports; -1 for either uses the leader's.
    public func setFollowerWatermarks(topic: String, partition: Int32, low: Int64, high: Int64) throws {
        try checkOpen()
        try check(rd_kafka_mock_partition_set_follower_wmarks(cluster, topic, partition, low, high), "cannot set follower watermarks")
    }

    /// Places the coordinator of consumer group `group` on `broker`.
    public func setCoordinator(group: String, broker: Int32) throws {
        try checkOpen()
        try check(rd_kafka_mock_coordinator_set(cluster, "group", group, broker), "cannot set group coordinator")
    }

    /// Places the coordinator of transactional id `transactionalID` on `broker`.
    public func setTransactionCoordinator(_ transactionalID: String, broker: Int32) throws {
        try checkOpen()
        try check(rd_kafka_mock_coordinator_set(cluster, "transaction", transactionalID, broker), "cannot set transaction coordinator")
    }

    /// Limits the versions of `api` the brokers advertise; `nil` removes the API, as a very old broker would.
    public func restrictAPI(_ api: KafkaAPI, to versions: ClosedRange<Int16>?) throws {
        try checkOpen()
        try check(
            rd_kafka_mock_set_apiversion(cluster, api.rawValue, versions?.lowerBound ?? -1, versions?.upperBound ?? -1),
            "cannot restrict \(api)"
        )
    }

    // MARK: - Scenarios

    /// Fails `topic`/`partition` over to `broker`: the partition's leader moves there.
    /// The mock never does this by itself when a broker goes down.
    public func failover(topic: String, partition: Int32, to broker: Int32) throws {
        try setLeader(topic: topic, partition: partition, broker: broker)
    }

    /// Makes the next `times` requests of `api` fail with a retriable `error` (default `notLeaderForPartition`).
    public func flaky(_ api: KafkaAPI, times: Int, error: ErrorCode = .notLeaderForPartition) throws {
        try failNext(api, with: Array(repeating: error, count: times))
    }

    /// Makes `broker` answer everything `delay` late.
    public func slowBroker(_ broker: Int32, by delay: Duration) throws {
        try setRTT(broker: broker, delay)
    }

    /// Moves the coordinator of `group` to the next broker (1 after the last).
    public func coordinatorMoves(group: String, from broker: Int32) throws {
        try setCoordinator(group: group, broker: broker % Int32(brokerCount) + 1)
    }

    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}

/// Runs `body` with a fresh ``MockCluster`` of `brokers` brokers holding
/// `topics` (name: partition count), and closes the cluster when `body`
/// returns or throws. Each call gets its own cluster on its own ports, so
/// parallel tests do not interfere.
public func withMockCluster<Result>(
    brokers: Int = 3, topics: [String: Int] = [:], _ body: (MockCluster) async throws -> Result
) async throws -> Result {
    let cluster = try MockCluster(brokers: brokers)
    defer { cluster.close() }
    for (topic, partitions) in topics.sorted(by: { $0.key < $1.key }) {
        try cluster.createTopic(topic, partitions: partitions, replicationFactor: min(brokers, 3))
    }
    return try await body(cluster)
}
