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
public final class MockCluster: Sendable {
    /// The bootstrap addresses, "127.0.0.1:port,..." (one per broker).
    public let bootstrapServers: String
    /// Number of brokers; their ids are 1...brokerCount.
    public let brokerCount: Int
    /// The live cluster, `nil` once closed. Every call uses it with the lock held, so
    /// ``close()`` can never free it under a caller (the mock's calls are short requests
    /// to its own thread).
    private let live: Mutex<LivePointers?>

    /// The cluster and the handle hosting it; freed together, once.
    private struct LivePointers: @unchecked Sendable {
        // Safe: only reached through `live`'s lock.
        let host: OpaquePointer
        let cluster: OpaquePointer
    }

    /// The most brokers one cluster may have: each is a listening socket and a thread.
    public static let maxBrokers = 64

    /// Starts a cluster of `brokers` brokers (default 3) on loopback.
    /// - Throws: `KafkaError.invalidArgument(_:)` for fewer than 1 or more than ``maxBrokers`` brokers;
    ///   `KafkaError.local(code:message:)` when librdkafka cannot start it.
    public init(brokers: Int = 3) throws {
        guard (1...Self.maxBrokers).contains(brokers) else {
            throw KafkaError.invalidArgument("a mock cluster has 1 to \(Self.maxBrokers) brokers, not \(brokers)")
        }
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
        self.live = Mutex(LivePointers(host: host, cluster: cluster))
        self.brokerCount = brokers
        self.bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
    }

    deinit {
        close()
    }

    /// The bootstrap addresses as a list, for `Broker.dial(_:conf:)`.
    public var addresses: [String] {
        bootstrapServers.split(separator: ",").map(String.init)
    }

    /// Stops the brokers and frees the cluster. Idempotent; clients still
    /// connected see their connections fail.
    public func close() {
        live.withLock { live in
            guard let pointers = live else { return }
            live = nil
            rd_kafka_mock_cluster_destroy(pointers.cluster)
            rd_kafka_destroy(pointers.host)
        }
    }

    /// Whether ``close()`` was called.
    public var isClosed: Bool { live.withLock { $0 == nil } }

    /// Runs `body` with the live cluster, holding the lock; throws ``KafkaError/closed`` after close.
    private func withCluster<R>(_ body: (OpaquePointer) throws -> R) throws -> R {
        try live.withLock { live in
            guard let pointers = live else { throw KafkaError.closed }
            return try body(pointers.cluster)
        }
    }

    /// Runs one mock call; a non-zero code becomes ``KafkaError/invalidArgument(_:)`` starting with `what`.
    private func call(_ what: @autoclosure () -> String, _ body: (OpaquePointer) -> rd_kafka_resp_err_t) throws {
        let code = try withCluster(body)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError.invalidArgument("\(what()): \(String(cString: rd_kafka_err2str(code)))")
        }
    }

    // MARK: - Topics

    /// Creates `topic` with `partitions` partitions and `replicationFactor` replicas (at most the broker count).
    /// - Throws: `KafkaError.invalidArgument(_:)` with librdkafka's reason (e.g. the topic exists).
    public func createTopic(_ topic: String, partitions: Int = 1, replicationFactor: Int = 1) throws {
        // librdkafka's mock aborts the process on counts it cannot allocate, and accepts nonsense ones.
        guard (1...Self.maxPartitions).contains(partitions) else {
            throw KafkaError.invalidArgument("topic \(topic) needs 1 to \(Self.maxPartitions) partitions, not \(partitions)")
        }
        guard (1...brokerCount).contains(replicationFactor) else {
            throw KafkaError.invalidArgument("topic \(topic) needs a replication factor of 1 to \(brokerCount) (the broker count), not \(replicationFactor)")
        }
        try call("cannot create topic \(topic)") { rd_kafka_mock_topic_create($0, topic, Int32(clamping: partitions), Int32(clamping: replicationFactor)) }
    }

    /// Makes Metadata responses report `error` for `topic` (`nil` clears it).
    public func setTopicError(_ topic: String, _ error: ErrorCode?) throws {
        try withCluster { rd_kafka_mock_topic_set_error($0, topic, rd_kafka_resp_err_t(Int32(error?.rawValue ?? 0))) }
    }

    // MARK: - Request errors

    /// Makes the next `errors.count` requests of `api`, on any broker, fail
    /// with these codes in order (first in, first out).
    public func failNext(_ api: KafkaAPI, with errors: [ErrorCode]) throws {
        try Self.requireCount(errors.count)
        let codes = errors.map { rd_kafka_resp_err_t(Int32($0.rawValue)) }
        try withCluster { rd_kafka_mock_push_request_errors_array($0, api.rawValue, codes.count, codes) }
    }

    /// Makes the next `count` requests of `api` close their connection instead of answering.
    public func disconnectNext(_ api: KafkaAPI, count: Int = 1) throws {
        try Self.requireCount(count)
        let codes = Array(repeating: RD_KAFKA_RESP_ERR__TRANSPORT, count: count)
        try withCluster { rd_kafka_mock_push_request_errors_array($0, api.rawValue, codes.count, codes) }
    }

    /// Drops queued cluster-wide errors of `api`.
    public func clearErrors(_ api: KafkaAPI) throws {
        try withCluster { rd_kafka_mock_clear_request_errors($0, api.rawValue) }
    }

    /// Queues per-request answers of `api` on one broker: each entry answers
    /// one request with its error (`nil` for success) after its delay. These
    /// take precedence over ``failNext(_:with:)``.
    public func failNext(_ api: KafkaAPI, on broker: Int32, with answers: [(error: ErrorCode?, delay: Duration)]) throws {
        for answer in answers {
            let code = rd_kafka_resp_err_t(Int32(answer.error?.rawValue ?? 0))
            let delay = Int32(clamping: Self.milliseconds(answer.delay))
            try call("cannot queue errors on broker \(broker)") {
                crdkafka_mock_broker_push_request_error_rtt($0, broker, api.rawValue, code, delay)
            }
        }
    }

    /// Number of queued per-broker answers of `api` on `broker` not yet used.
    public func pendingErrors(for api: KafkaAPI, on broker: Int32) throws -> Int {
        var count = 0
        try call("cannot read errors of broker \(broker)") { rd_kafka_mock_broker_error_stack_cnt($0, broker, api.rawValue, &count) }
        return count
    }

    // MARK: - Brokers and partitions

    /// Takes `broker` down (its connections close and it accepts none);
    /// `nil` takes every broker down. Partition leaders do not move.
    public func setDown(broker: Int32?) throws {
        try call("cannot set broker down") { rd_kafka_mock_broker_set_down($0, broker ?? -1) }
    }

    /// Brings `broker` (or every broker, for `nil`) back up.
    public func setUp(broker: Int32?) throws {
        try call("cannot set broker up") { rd_kafka_mock_broker_set_up($0, broker ?? -1) }
    }

    /// Delays every answer of `broker` by `rtt`.
    public func setRTT(broker: Int32, _ rtt: Duration) throws {
        try call("cannot set round-trip time") { rd_kafka_mock_broker_set_rtt($0, broker, Int32(clamping: Self.milliseconds(rtt))) }
    }

    /// Sets the rack `broker` advertises.
    public func setRack(broker: Int32, _ rack: String) throws {
        try call("cannot set rack") { rd_kafka_mock_broker_set_rack($0, broker, rack) }
    }

    /// Moves the leadership of `topic`/`partition` to `broker`; `nil` leaves it without a leader.
    public func setLeader(topic: String, partition: Int32, broker: Int32?) throws {
        try Self.requirePartition(partition)
        try call("cannot set leader") { rd_kafka_mock_partition_set_leader($0, topic, partition, broker ?? -1) }
    }

    /// Makes `broker` the preferred follower for fetches of `topic`/`partition`.
    public func setFollower(topic: String, partition: Int32, broker: Int32) throws {
        try Self.requirePartition(partition)
        try call("cannot set follower") { rd_kafka_mock_partition_set_follower($0, topic, partition, broker) }
    }

    /// Sets the watermarks the follower reports; -1 for either uses the leader's.
    public func setFollowerWatermarks(topic: String, partition: Int32, low: Int64, high: Int64) throws {
        try Self.requirePartition(partition)
        try call("cannot set follower watermarks") { rd_kafka_mock_partition_set_follower_wmarks($0, topic, partition, low, high) }
    }

    /// Places the coordinator of consumer group `group` on `broker`.
    public func setCoordinator(group: String, broker: Int32) throws {
        try call("cannot set group coordinator") { rd_kafka_mock_coordinator_set($0, "group", group, broker) }
    }

    /// Places the coordinator of transactional id `transactionalID` on `broker`.
    public func setTransactionCoordinator(_ transactionalID: String, broker: Int32) throws {
        try call("cannot set transaction coordinator") { rd_kafka_mock_coordinator_set($0, "transaction", transactionalID, broker) }
    }

    /// Limits the versions of `api` the brokers advertise; `nil` removes the API, as a very old broker would.
    public func restrictAPI(_ api: KafkaAPI, to versions: ClosedRange<Int16>?) throws {
        try call("cannot restrict \(api)") {
            rd_kafka_mock_set_apiversion($0, api.rawValue, versions?.lowerBound ?? -1, versions?.upperBound ?? -1)
        }
    }

    // MARK: - Scenarios

    /// Fails `topic`/`partition` over to `broker`: the partition's leader moves there.
    /// The mock never does this by itself when a broker goes down.
    public func failover(topic: String, partition: Int32, to broker: Int32) throws {
        try setLeader(topic: topic, partition: partition, broker: broker)
    }

    /// Makes the next `times` requests of `api` fail with a retriable `error` (default `notLeaderForPartition`).
    public func flaky(_ api: KafkaAPI, times: Int, error: ErrorCode = .notLeaderForPartition) throws {
        try Self.requireCount(times)
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

    /// Whole milliseconds of `duration`, saturating instead of overflowing; negative becomes 0.
    static func milliseconds(_ duration: Duration) -> Int {
        let millis = duration.attoseconds / 1_000_000_000_000_000
        return millis <= 0 ? 0 : Int(clamping: millis)
    }

    /// The most partitions one embedded topic may have (each keeps a log in memory).
    public static let maxPartitions = 10_000

    /// The most requests one fault-injection call may script.
    public static let maxScriptedRequests = 100_000

    private static func requirePartition(_ partition: Int32) throws {
        guard partition >= 0 else { throw KafkaError.invalidArgument("partition \(partition) is negative") }
    }

    private static func requireCount(_ count: Int) throws {
        guard (0...maxScriptedRequests).contains(count) else {
            throw KafkaError.invalidArgument("count \(count) is outside 0...\(maxScriptedRequests)")
        }
    }
}
