import Foundation
import Synchronization

/// A connection to a Kafka cluster: the factory of producers, consumers and
/// offset coordinators, and the source of metadata. Go's `kafka.Broker`.
///
/// `dial` succeeds only after a metadata fetch. librdkafka's threads do the
/// network I/O; producers with the same settings share one librdkafka handle.
/// ``close()`` is final, unlike Go's: afterwards every call on the broker and
/// on everything made from it throws `KafkaError.closed`.
public final class Broker: Client {
    /// The seed addresses the broker was dialled with.
    public let addresses: [String]
    /// The configuration the broker was dialled with.
    public let conf: BrokerConf
    /// The handle made at dial time: metadata, watermarks, and producers with default settings.
    let primary: NativeHandle
    private let state: Mutex<State>

    private struct State {
        var closed = false
        var partitionCounts: [String: Int32] = [:]
        var producerHandles: [ProducerSettings: NativeHandle] = [:]
        /// Handles of ``Sender``s, one each: flushed and closed with the producers'.
        var senderHandles: [NativeHandle] = []
        /// Shared consumer handles by settings; more than one when a partition is read twice.
        var consumerHandles: [ConsumerSettings: [NativeHandle]] = [:]
        var childHandles: [NativeHandle] = []
    }

    private init(addresses: [String], conf: BrokerConf, primary: NativeHandle, metadata: ClusterMetadata) {
        self.addresses = addresses
        self.conf = conf
        self.primary = primary
        var state = State()
        state.producerHandles[ProducerSettings(ProducerConf())] = primary
        self.state = Mutex(state)
        cache(metadata)
    }

    deinit {
        close()
    }

    /// Connects to the cluster behind `addresses` ("host:port" each) and fetches its metadata.
    ///
    /// Makes up to `conf.dialRetryLimit` attempts, `conf.dialRetryWait`
    /// apart, as Go's dial loop does. An attempt fails at once when every address refuses
    /// a TCP connection or cannot be resolved (checked with one connect per address, as Go
    /// dials); otherwise it ends when metadata arrives, when librdkafka reports every
    /// broker down, or after `conf.dialTimeout`. So a dial of
    /// addresses that refuse fails within about `dialRetryLimit × (dialRetryWait + the time
    /// to be refused)`: about 5 s with the defaults. librdkafka reconnects in the
    /// background between attempts, at most `dialRetryWait` apart (its
    /// `reconnect.backoff.max.ms`, unless `conf.properties` sets it), and so do the handles of the
    /// producers and consumers made from the broker.
    ///
    /// - Throws: `KafkaError.invalidArgument(_:)` for an empty list ("no addresses provided");
    ///   `KafkaError.invalidConfiguration(_:)` for a bad conf or librdkafka property, with its text;
    ///   `KafkaError.local(code:message:)` naming the addresses tried when none answered, and, with a
    ///   librdkafka older than 2.2.0 whose error looks like its tagged-field bug, saying so.
    public static func dial(_ addresses: [String], conf: BrokerConf = BrokerConf()) throws -> Broker {
        try conf.validate()
        let seeds = addresses.map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
        guard !seeds.isEmpty else { throw KafkaError.invalidArgument("no addresses provided") }
        let properties = baseProperties(seeds, conf) + ProducerSettings(ProducerConf()).properties(conf)
        let handle = try NativeHandle(
            kind: .producer, properties: properties, logger: conf.logger, name: "broker", polled: true, tokenProvider: conf.tokenProvider
        )
        var lastError = KafkaError.local(code: LocalErrorCode.transport, message: "no attempt made")
        handle.context.clearDiagnostics()
        for attempt in 1...conf.dialRetryLimit {
            if attempt > 1 { conf.clock.sleep(for: conf.dialRetryWait) }
            do {
                let metadata = try fetchDialMetadata(handle, seeds: seeds, timeout: conf.dialTimeout)
                return Broker(addresses: seeds, conf: conf, primary: handle, metadata: metadata)
            } catch let error as KafkaError {
                lastError = error
                conf.logger.error("cannot fetch metadata", [("attempt", "\(attempt)"), ("error", error.description)])
            }
        }
        // librdkafka 2.2 and later end a failed dial with "N/N brokers are down"; the line before
        // says why (a TLS handshake that failed verification, say), so that one is named.
        let recent = handle.context.recentDiagnostics()
        let diagnostics = (recent.last { !$0.contains("brokers are down") } ?? recent.last).map { "; librdkafka: \($0)" } ?? ""
        let hint = handle.context.sawTaggedFieldBug ? "; \(Librdkafka.taggedFieldBugHint)" : ""
        handle.close()
        let (code, reason): (Int32, String) = switch lastError {
        case .local(let code, let message): (code, message)
        default: (LocalErrorCode.transport, lastError.description)
        }
        throw KafkaError.local(
            code: code,
            message: "cannot connect to: [\(seeds.joined(separator: " "))] after \(conf.dialRetryLimit) attempt(s): \(reason)\(diagnostics)\(hint)"
        )
    }

    /// The `async` twin of ``dial(_:conf:)``: the dial runs on a thread outside the cooperative pool.
    /// - Throws: as ``dial(_:conf:)``; `CancellationError` at once when the task is cancelled
    ///   (a dial that still succeeds afterwards is closed).
    public static func dial(_ addresses: [String], conf: BrokerConf = BrokerConf()) async throws -> Broker {
        try await runBlocking(abandoned: { $0.close() }) { try dial(addresses, conf: conf) }
    }

    /// One dial attempt: fails at once when every address refuses a TCP connection (Go's
    /// dial); otherwise fetches metadata in short slices until it arrives, the timeout passes,
    /// or librdkafka reports every broker down.
    private static func fetchDialMetadata(_ handle: NativeHandle, seeds: [String], timeout: Duration) throws -> ClusterMetadata {
        guard AddressProbe.anyMayAnswer(seeds, timeout: min(timeout, .seconds(1))) else {
            throw KafkaError.local(code: LocalErrorCode.transport, message: "every address refused the connection or could not be resolved")
        }
        handle.context.allBrokersDown.store(0, ordering: .relaxed)
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var lastError = KafkaError.local(code: LocalErrorCode.timedOut, message: "metadata request timed out")
        while clock.now < deadline {
            let slice = min(.milliseconds(250), deadline - clock.now)
            do {
                return try handle.fetchMetadata(timeout: slice)
            } catch let error as KafkaError {
                lastError = error
                if error == .closed { throw error }
            }
            if handle.context.allBrokersDown.load(ordering: .relaxed) != 0 {
                throw KafkaError.local(code: LocalErrorCode.allBrokersDown, message: "all brokers are down")
            }
        }
        throw lastError
    }

    static func baseProperties(_ seeds: [String], _ conf: BrokerConf) -> [(String, String)] {
        var properties: [(String, String)] = [
            ("bootstrap.servers", seeds.joined(separator: ",")),
            ("client.id", conf.clientID),
            ("socket.connection.setup.timeout.ms", "\(max(1000, conf.dialTimeout.milliseconds))"),
            ("socket.timeout.ms", "\(max(10, conf.readTimeout.milliseconds))"),
            ("topic.metadata.refresh.interval.ms", "10000"),
            // TCP_NODELAY, as Go's net.Dial: with Nagle on, a blocking produce whose request
            // spans several segments waits for the peer's delayed ACK (about 40 ms).
            ("socket.nagle.disable", "true"),
        ]
        if conf.properties["reconnect.backoff.max.ms"] == nil {
            // Every handle reconnects at most `dialRetryWait` apart. librdkafka's own cap (10 s)
            // also paced its check of message timeouts on a broker that is down: a produce with
            // every broker down failed up to 5 s after its documented bound. librdkafka takes at
            // most an hour; a longer dialRetryWait still paces the dial's own attempts.
            let backoff = min(3_600_000, max(10, conf.dialRetryWait.milliseconds))
            properties += [("reconnect.backoff.ms", "\(min(100, backoff))"), ("reconnect.backoff.max.ms", "\(backoff)")]
        }
        // Validated by `BrokerConf.validate()` at dial, so nothing is thrown here.
        properties += (try? conf.securityProperties()) ?? []
        for key in conf.properties.keys.sorted() { properties.append((key, conf.properties[key] ?? "")) }
        return properties
    }

    // MARK: - Client

    /// Returns a producer with `conf`. Producers with equal settings share one librdkafka handle.
    /// - Throws: `KafkaError.invalidConfiguration(_:)` for a bad conf or property, `KafkaError.closed` after close.
    public func producer(_ conf: ProducerConf = ProducerConf()) throws -> BrokerProducer {
        try conf.validate()
        let settings = ProducerSettings(conf)
        let handle: NativeHandle = try state.withLock { state throws(KafkaError) -> NativeHandle in
            guard !state.closed else { throw .closed }
            if let existing = state.producerHandles[settings], !existing.isClosed { return existing }
            let created = try NativeHandle(
                kind: .producer,
                properties: Self.baseProperties(addresses, self.conf) + settings.properties(self.conf),
                logger: conf.logger ?? self.conf.logger, name: "producer", polled: true, tokenProvider: self.conf.tokenProvider
            )
            state.producerHandles[settings] = created
            return created
        }
        return BrokerProducer(broker: self, conf: conf, handle: handle)
    }

    /// Returns a new ``Sender``, the service producer (send now, learn of delivery later), with its
    /// own librdkafka handle; ``flush(timeout:)-4e0sq`` and ``close()`` cover it.
    /// - Throws: `KafkaError.invalidConfiguration(_:)` for a bad conf or property, `KafkaError.closed` after close.
    public func sender(_ conf: SenderConf = SenderConf()) throws -> Sender {
        try conf.validate()
        let native = try SenderHandle(
            properties: Self.baseProperties(addresses, self.conf) + conf.librdkafkaProperties(),
            logger: conf.logger ?? self.conf.logger, tokenProvider: self.conf.tokenProvider
        )
        let adopted: Bool = state.withLock { state in
            guard !state.closed else { return false }
            state.senderHandles.removeAll { $0.isClosed }
            state.senderHandles.append(native.handle)
            return true
        }
        guard adopted else {
            native.handle.close()
            throw KafkaError.closed
        }
        return Sender(broker: self, conf: conf, native: native)
    }

    /// Returns a consumer of `conf.topic`/`conf.partition`, positioned at `conf.startOffset`.
    /// - Throws: `KafkaError.broker(_:message:)` `unknownTopicOrPartition` when the partition
    ///   does not exist (after `leaderRetryLimit` refreshes), configuration errors, `KafkaError.closed`.
    public func consumer(_ conf: ConsumerConf) throws -> BrokerConsumer {
        try BrokerConsumer(broker: self, conf: conf)
    }

    /// The `async` twin of ``consumer(_:)``; `CancellationError` when cancelled (a consumer made anyway is closed).
    public func consumer(_ conf: ConsumerConf) async throws -> BrokerConsumer {
        try await runBlocking(abandoned: { $0.close() }) { try self.consumer(conf) }
    }

    /// Returns a member of the consumer group `conf.group`, subscribed to `conf.topics`.
    /// The group's partitions are assigned to it as members join and leave.
    /// - Throws: `KafkaError.invalidConfiguration(_:)` for an empty group id, no topics, or a
    ///   bad setting; `unknownTopicOrPartition` naming a subscribed topic that does not exist;
    ///   `KafkaError.closed`.
    public func groupConsumer(_ conf: GroupConsumerConf) throws -> GroupConsumer {
        try GroupConsumer(broker: self, conf: conf)
    }

    /// The `async` twin of ``groupConsumer(_:)``.
    public func groupConsumer(_ conf: GroupConsumerConf) async throws -> GroupConsumer {
        try await runBlocking(abandoned: { $0.close() }) { try self.groupConsumer(conf) }
    }

    /// Returns an offset coordinator for `conf.consumerGroup`.
    /// - Throws: configuration errors, `KafkaError.closed`.
    public func offsetCoordinator(_ conf: OffsetCoordinatorConf) throws -> BrokerOffsetCoordinator {
        try BrokerOffsetCoordinator(broker: self, conf: conf)
    }

    /// The oldest offset `topic`/`partition` still holds (the low watermark).
    /// - Throws: `unknownTopicOrPartition` for a partition that does not exist; the broker's
    ///   error after `retryErrLimit` attempts on transient errors; `KafkaError.closed`.
    public func offsetEarliest(_ topic: String, partition: Int32) throws -> Int64 {
        try watermarks(topic, partition: partition).low
    }

    /// The offset the next message produced to `topic`/`partition` will get (the high watermark).
    /// Same errors as ``Broker/offsetEarliest(_:partition:)-6c2vp``.
    public func offsetLatest(_ topic: String, partition: Int32) throws -> Int64 {
        try watermarks(topic, partition: partition).high
    }

    /// The `async` twin of ``offsetEarliest(_:partition:)``; never blocks a cooperative thread,
    /// and throws `CancellationError` at once when the task is cancelled (as every `async` call
    /// of the broker does).
    public func offsetEarliest(_ topic: String, partition: Int32) async throws -> Int64 {
        try await runBlocking { try self.offsetEarliest(topic, partition: partition) }
    }

    /// The `async` twin of ``offsetLatest(_:partition:)``.
    public func offsetLatest(_ topic: String, partition: Int32) async throws -> Int64 {
        try await runBlocking { try self.offsetLatest(topic, partition: partition) }
    }

    /// Both watermarks of a partition, asked of its leader, with the retry rules of ``offsetEarliest(_:partition:)-6c2vp``.
    public func watermarks(_ topic: String, partition: Int32) throws -> (low: Int64, high: Int64) {
        try requirePartition(topic, partition)
        var lastError = KafkaError.closed
        for attempt in 1...conf.retryErrLimit {
            if attempt > 1 {
                conf.clock.sleep(for: conf.retryErrWait)
                _ = try? refreshMetadata()
            }
            do {
                return try primary.queryWatermarks(topic, partition, timeout: max(.seconds(1), conf.readTimeout))
            } catch let error as KafkaError {
                lastError = error
            }
            conf.logger.debug("watermark query failed", [("topic", topic), ("partition", "\(partition)"), ("error", lastError.description)])
            // requirePartition proved the partition exists; librdkafka's own cache can lack it for a
            // moment after a leader change (seen with librdkafka 2.16), so that error is retried too.
            guard lastError.isTransient || lastError.isLocal(LocalErrorCode.unknownPartition) else { throw lastError }
        }
        throw lastError
    }

    /// The `async` twin of ``watermarks(_:partition:)``.
    public func watermarks(_ topic: String, partition: Int32) async throws -> (low: Int64, high: Int64) {
        let pair = try await runBlocking { () -> Watermarks in
            let (low, high) = try self.watermarks(topic, partition: partition)
            return Watermarks(low: low, high: high)
        }
        return (pair.low, pair.high)
    }

    private struct Watermarks: Sendable {
        let low: Int64
        let high: Int64
    }

    /// Fetches fresh metadata of every topic (creating none) and refreshes the partition-count cache.
    /// - Throws: the fetch's error after `readTimeout`, `KafkaError.closed`.
    public func metadata() throws -> ClusterMetadata {
        try refreshMetadata()
    }

    /// The `async` twin of ``metadata()``.
    public func metadata() async throws -> ClusterMetadata {
        try await runBlocking { try self.metadata() }
    }

    /// How many partitions `topic` has, from the metadata cache; an unknown
    /// topic triggers one refresh before it is an error (Go read only the cache).
    /// - Throws: `KafkaError.broker(_:message:)` `unknownTopicOrPartition`
    ///   ("topic X not found in metadata"), `KafkaError.invalidArgument(_:)` for an illegal name.
    public func partitionCount(_ topic: String) throws -> Int32 {
        try validateTopicName(topic)
        try checkOpen()
        if let count = cachedPartitionCount(topic) { return count }
        _ = try refreshMetadata()
        if let count = cachedPartitionCount(topic) { return count }
        throw KafkaError.broker(.unknownTopicOrPartition, message: "topic \(topic) not found in metadata")
    }

    /// Creates `topic` with `partitions` partitions, each on `replicationFactor` brokers, with
    /// topic-level `config` (e.g. `["retention.ms": "60000"]`), through the cluster's controller.
    ///
    /// Returns when the controller created the topic; its partitions may take a moment more to
    /// get leaders. librdkafka 2.0.2's embedded mock cluster serves no admin API (use
    /// `MockCluster.createTopic` there).
    /// - Throws: `KafkaError.invalidArgument(_:)` for an illegal name or counts below 1;
    ///   `KafkaError.broker(_:message:)` with the controller's code (`topicAlreadyExists`,
    ///   `invalidReplicationFactor`, ...); `KafkaError.timeout(_:)` without an answer within
    ///   `timeout` (default: the broker's `readTimeout`); `KafkaError.closed`.
    public func createTopic(
        _ topic: String, partitions: Int32, replicationFactor: Int32 = 1, config: [String: String] = [:], timeout: Duration? = nil
    ) throws {
        try validateTopicName(topic)
        guard partitions >= 1 else { throw KafkaError.invalidArgument("topic \(topic) needs at least 1 partition, not \(partitions)") }
        guard replicationFactor >= 1 else {
            throw KafkaError.invalidArgument("topic \(topic) needs a replication factor of at least 1, not \(replicationFactor)")
        }
        try checkOpen()
        try primary.createTopic(
            topic, partitions: partitions, replicationFactor: replicationFactor, config: config, timeout: timeout ?? conf.readTimeout
        )
    }

    /// Deletes `topic` and its data through the cluster's controller.
    /// - Throws: `KafkaError.broker(_:message:)` `unknownTopicOrPartition` when it does not exist;
    ///   `KafkaError.timeout(_:)`; `KafkaError.closed`; as ``createTopic(_:partitions:replicationFactor:config:timeout:)-96dsc``.
    public func deleteTopic(_ topic: String, timeout: Duration? = nil) throws {
        try validateTopicName(topic)
        try checkOpen()
        try primary.deleteTopic(topic, timeout: timeout ?? conf.readTimeout)
        state.withLock { _ = $0.partitionCounts.removeValue(forKey: topic) }
    }

    /// The `async` twin of ``partitionCount(_:)``: answers from the cache without suspending
    /// when it can.
    public func partitionCount(_ topic: String) async throws -> Int32 {
        try validateTopicName(topic)
        try checkOpen()
        if let count = cachedPartitionCount(topic) { return count }
        return try await runBlocking { try self.partitionCount(topic) }
    }

    /// The `async` twin of ``createTopic(_:partitions:replicationFactor:config:timeout:)``.
    public func createTopic(
        _ topic: String, partitions: Int32, replicationFactor: Int32 = 1, config: [String: String] = [:], timeout: Duration? = nil
    ) async throws {
        try await runBlocking {
            try self.createTopic(topic, partitions: partitions, replicationFactor: replicationFactor, config: config, timeout: timeout)
        }
    }

    /// The `async` twin of ``deleteTopic(_:timeout:)``.
    public func deleteTopic(_ topic: String, timeout: Duration? = nil) async throws {
        try await runBlocking { try self.deleteTopic(topic, timeout: timeout) }
    }

    /// Waits up to `timeout` until every message handed to librdkafka by this broker's producers
    /// is acknowledged (or failed), so that a graceful shutdown loses nothing in flight.
    /// Returns how many are still outstanding when it gives up (0: all settled).
    @discardableResult
    public func flush(timeout: Duration) -> Int {
        flushProducers(timeout: timeout)
    }

    private func flushProducers(timeout: Duration) -> Int {
        let handles = state.withLock { Self.distinct(Array($0.producerHandles.values) + $0.senderHandles) }
        let deadline = ContinuousClock.now + timeout
        var outstanding = 0
        for handle in handles where !handle.isClosed {
            outstanding += handle.flush(timeout: max(.zero, deadline - ContinuousClock.now))
        }
        return outstanding
    }

    /// The `async` twin of ``flush(timeout:)``, run on the library's call pool while the task
    /// waits without holding a thread. A cancelled task stops waiting at once and gets the count
    /// outstanding at that moment.
    @discardableResult
    public func flush(timeout: Duration) async -> Int {
        do {
            return try await runBlocking { self.flushProducers(timeout: timeout) }
        } catch {
            return flushProducers(timeout: .zero)
        }
    }

    /// Closes every librdkafka handle of the broker and of everything made
    /// from it. Blocked and later calls throw `KafkaError.closed`.
    /// Idempotent and safe from any thread; returns when the handles are destroyed, and within
    /// about a second (``closeBound``) with group members open: their last commit and leave
    /// then go on in the background for up to their ``GroupConsumerConf/closeTimeout``
    /// (close a ``GroupConsumer`` first to wait for its commit).
    public func close() {
        let handles: [NativeHandle] = state.withLock { state in
            guard !state.closed else { return [] }
            state.closed = true
            return state.childHandles + state.consumerHandles.values.flatMap { $0 } + state.senderHandles
                + state.producerHandles.values.filter { $0 !== primary } + [primary]
        }
        let deadline = ContinuousClock.now + Self.closeBound
        for handle in handles {
            // Only group members' teardowns are bounded (they wait for the coordinator); the
            // others return once librdkafka's destroy is done.
            handle.close(within: handle.teardownLimit.map { min($0, max(.zero, deadline - ContinuousClock.now)) })
        }
    }

    /// How long ``close()`` waits for group members' commits and leaves together: one second.
    public static let closeBound: Duration = .seconds(1)

    /// The `async` twin of ``close()``, with the same bound, run on the library's call pool while
    /// the task waits without holding a thread. Named apart from `close()` so that a
    /// `defer { broker.close() }` in `async` code keeps its meaning. A cancelled task stops
    /// waiting at once; the close goes on and is final all the same.
    public func shutdown() async {
        try? await runBlocking { self.close() }
    }

    /// How many librdkafka handles of this broker and its children are still open (0 after ``close()`` returns).
    var openHandleCount: Int {
        state.withLock { state in
            Self.distinct(state.childHandles + state.consumerHandles.values.flatMap { $0 } + Array(state.producerHandles.values) + state.senderHandles + [primary])
                .filter { !$0.isClosed }.count
        }
    }

    /// `handles` without repeats (producers with default settings share the primary handle).
    private static func distinct(_ handles: [NativeHandle]) -> [NativeHandle] {
        var seen = Set<ObjectIdentifier>()
        return handles.filter { seen.insert(ObjectIdentifier($0)).inserted }
    }

    /// The latest statistics JSON librdkafka emitted for the broker's main
    /// handle, or `nil` before the first one. librdkafka emits them only when
    /// the `statistics.interval.ms` property is set (see its STATISTICS.md).
    public func latestStatistics() -> String? {
        primary.context.statistics.withLock { $0 }
    }

    /// The latest statistics JSON of every librdkafka handle of the broker (its own, its
    /// producers', senders' and partition consumers'), for handles that emitted one.
    public func allStatistics() -> [String] {
        let handles = state.withLock { state in
            Self.distinct([primary] + Array(state.producerHandles.values) + state.senderHandles + state.consumerHandles.values.flatMap { $0 } + state.childHandles)
        }
        return handles.compactMap { $0.context.statistics.withLock { $0 } }
    }

    /// Whether ``close()`` was called.
    public var isClosed: Bool { state.withLock { $0.closed } }

    // MARK: - Internals shared by producers and consumers

    func checkOpen() throws(KafkaError) {
        if state.withLock({ $0.closed }) { throw .closed }
    }

    /// Adopts a child's handle so that closing the broker closes it; throws `KafkaError.closed` (and closes it) if the broker is closed.
    func adopt(_ handle: NativeHandle) throws(KafkaError) {
        let closed: Bool = state.withLock { state in
            guard !state.closed else { return true }
            state.childHandles.removeAll { $0.isClosed }
            state.childHandles.append(handle)
            return false
        }
        if closed {
            handle.close()
            throw .closed
        }
    }

    /// A consumer handle with `settings` that reads `topic`/`partition` for the caller (claimed
    /// for it): a shared one that does not read it yet, or a new one.
    func consumerHandle(_ settings: ConsumerSettings, for topic: String, _ partition: Int32) throws -> NativeHandle {
        try state.withLock { state throws(KafkaError) -> NativeHandle in
            guard !state.closed else { throw .closed }
            if let shared = state.consumerHandles[settings]?.first(where: { $0.claim(topic, partition) }) { return shared }
            let created = try NativeHandle(
                kind: .consumer, properties: settings.properties(conf, seeds: addresses),
                logger: conf.logger, name: "consumer", polled: true, tokenProvider: conf.tokenProvider
            )
            _ = created.claim(topic, partition)
            state.consumerHandles[settings, default: []].append(created)
            return created
        }
    }

    /// Retires `handle` once no partition is read through it any more: the next consumer starts
    /// on a fresh handle, because a handle whose last partition stopped first waits out that
    /// partition's long-poll fetch (up to `fetch.wait.max.ms`) before it serves a new one
    /// (measured: 100 ms to the first message of each consumer made one after another).
    /// The retired handle is closed on the library's call pool, so `close()` of the consumer does
    /// not wait for librdkafka's shutdown; the broker's `close()` still closes it.
    func retireIfUnused(_ handle: NativeHandle) {
        let retired: Bool = state.withLock { state in
            guard !state.closed, handle.readPartitionCount == 0 else { return false }
            for (settings, handles) in state.consumerHandles where handles.contains(where: { $0 === handle }) {
                let remaining = handles.filter { $0 !== handle }
                state.consumerHandles[settings] = remaining.isEmpty ? nil : remaining
                state.childHandles.append(handle)  // closed by the broker's close() if still open
                return true
            }
            return false
        }
        guard retired else { return }
        CallPool.shared.run { handle.close() }
    }

    /// How many shared consumer handles the broker holds (for tests of sharing).
    var consumerHandleCount: Int { state.withLock { $0.consumerHandles.values.reduce(0) { $0 + $1.count } } }

    private func cachedPartitionCount(_ topic: String) -> Int32? {
        state.withLock { $0.partitionCounts[topic] }
    }

    @discardableResult
    func refreshMetadata(topic: String? = nil) throws -> ClusterMetadata {
        try checkOpen()
        let metadata = try primary.fetchMetadata(topic: topic, timeout: max(.seconds(1), conf.readTimeout))
        cache(metadata)
        return metadata
    }

    private func cache(_ metadata: ClusterMetadata) {
        state.withLock { state in
            for topic in metadata.topics where topic.error == nil || topic.error == .leaderNotAvailable {
                if !topic.partitions.isEmpty { state.partitionCounts[topic.name] = Int32(topic.partitions.count) }
            }
        }
    }

    /// Ensures `topic`/`partition` exists, refreshing metadata up to
    /// `leaderRetryLimit` times (`leaderRetryWait` apart) for an unknown
    /// topic. A known topic with too few partitions fails after one refresh.
    func requirePartition(_ topic: String, _ partition: Int32) throws {
        try validateTopicName(topic)
        try validatePartition(partition)
        try checkOpen()
        if let count = cachedPartitionCount(topic), partition < count { return }
        for attempt in 1...conf.leaderRetryLimit {
            if attempt > 1 { conf.clock.sleep(for: conf.leaderRetryWait) }
            do {
                try refreshMetadata(topic: conf.allowTopicCreation ? topic : nil)
            } catch let error as KafkaError where error != .closed {
                conf.logger.info("metadata refresh failed", [("topic", topic), ("error", error.description)])
                continue
            }
            if let count = cachedPartitionCount(topic) {
                if partition < count { return }
                throw KafkaError.broker(
                    .unknownTopicOrPartition,
                    message: "topic \(topic) has \(count) partition(s) (0...\(count - 1)); partition \(partition) does not exist"
                )
            }
        }
        throw KafkaError.broker(.unknownTopicOrPartition, message: "topic \(topic) not found in metadata")
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
