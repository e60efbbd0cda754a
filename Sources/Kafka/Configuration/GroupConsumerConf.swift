/// Settings of a ``GroupConsumer``: a member of a balanced consumer group.
public struct GroupConsumerConf: Sendable {
    /// How the group's partitions are divided among its members.
    public enum AssignmentStrategy: String, Sendable, CaseIterable {
        /// Each topic's partitions in ranges, per member (Kafka's default).
        case range
        /// All partitions dealt round-robin.
        case roundRobin = "roundrobin"
        /// Sticky, and incremental: a rebalance moves only the partitions that change owner,
        /// the others keep being read (KIP-429).
        case cooperativeSticky = "cooperative-sticky"
    }

    /// When consumed offsets are committed.
    public enum CommitPolicy: Sendable, Hashable {
        /// librdkafka commits every `interval` what was handed out by `consume()` (at least
        /// once: a message's offset is committable only after it was handed out), and
        /// ``GroupConsumer/close()`` commits once more.
        case automatic(interval: Duration)
        /// Only ``GroupConsumer/commit()-4jh0m`` and its siblings commit.
        case manual
    }

    /// The consumer group's id. Required; must not be empty.
    public var group: String
    /// The topics to subscribe to. Required; each must exist. Default: the ones given at init.
    public var topics: [String]
    /// Default ``AssignmentStrategy/range``.
    public var assignmentStrategy: AssignmentStrategy = .range
    /// Static membership (`group.instance.id`): a member that restarts with the same id within
    /// the session timeout gets its partitions back without a rebalance. Default nil (dynamic).
    public var instanceID: String? = nil
    /// How long the coordinator waits for a heartbeat before it evicts the member. Default 45 s
    /// (librdkafka's); between 1 s and 1 hour.
    public var sessionTimeout: Duration = .seconds(45)
    /// How often the member sends heartbeats. Default 3 s; less than `sessionTimeout`.
    public var heartbeatInterval: Duration = .seconds(3)
    /// Where a partition with no committed offset starts: `StartOffset.oldest` (the default)
    /// or `StartOffset.newest`; an explicit offset is a configuration error.
    public var startOffset: StartOffset = .oldest
    /// Default ``CommitPolicy/automatic(interval:)`` every 5 s.
    public var commitPolicy: CommitPolicy = .automatic(interval: .seconds(5))
    /// How long one call waits for messages before the wait counts as an empty fetch, as
    /// ``ConsumerConf/requestTimeout`` (it does not count while an assigned partition is known to
    /// hold unread data). Default 50 ms.
    public var requestTimeout: Duration = .milliseconds(50)
    /// The broker's long-poll, as ``ConsumerConf/fetchWait``. Default nil: the smaller of
    /// ``requestTimeout`` and 100 ms.
    public var fetchWait: Duration? = nil
    /// Empty fetches before `KafkaError.noData`; -1 (the default) waits for ever. As ``ConsumerConf/retryLimit``.
    public var retryLimit: Int = -1
    /// Wait after an empty fetch. Default 0, unlike ``ConsumerConf/retryWait``: a member reads
    /// many partitions through one queue that fills as fetch responses arrive, so a sleep after
    /// each empty fetch left it idle while messages waited (measured: 0.11–0.46 of raw
    /// librdkafka's throughput with 50 ms, 0.91–0.96 with 0). The fetch wait (`requestTimeout`)
    /// paces empty fetches, so `retryLimit` empty fetches take about `retryLimit × requestTimeout`.
    public var retryWait: Duration = .zero
    /// Failed fetches before the error is thrown. Default 10; at least 1.
    public var retryErrLimit: Int = 10
    /// Wait after a failed fetch. Default 500 ms.
    public var retryErrWait: Duration = .milliseconds(500)
    /// Whether headers are read. Default true.
    public var readsHeaders = true
    /// Which messages of transactional producers are read. Default ``IsolationLevel/readCommitted``
    /// (librdkafka's default): messages of aborted transactions are skipped, and a partition is read
    /// no further than the first message of a transaction still open, until it ends.
    public var isolation: IsolationLevel = .readCommitted
    /// How long ``GroupConsumer/close()`` waits to commit (per the policy) and leave the group.
    /// When the coordinator does not answer within it, `close()` returns anyway and logs a warning;
    /// the commit and leave go on in the background until librdkafka gives up (a commit that then
    /// fails is logged with the positions it did not commit, whose messages the group's next reader
    /// of those partitions reads again), and the coordinator evicts the member after the session
    /// timeout. Default 10 s; must be positive.
    public var closeTimeout: Duration = .seconds(10)
    /// What runs when the group gives this member partitions, takes them away, or finds them
    /// lost. Default: nothing.
    public var rebalance = RebalanceHooks()
    /// Receives this consumer's log lines; nil (the default) uses the broker's logger.
    public var logger: (any KafkaLogger)? = nil
    /// Raw librdkafka properties, applied last. Default empty. The member's handle sets
    /// `queued.min.messages` to 1,000,000 (librdkafka's default is 100,000, counted over all
    /// assigned partitions, whose prefetch then paused for up to a second each time it was
    /// reached); its prefetch is bounded by `queued.max.messages.kbytes` (64 MiB) instead.
    public var properties: [String: String] = [:]

    /// A member of `group` reading `topics`, with the defaults above.
    public init(group: String, topics: [String]) {
        self.group = group
        self.topics = topics
    }

    func validate() throws(KafkaError) {
        guard !group.isEmpty else {
            throw .invalidConfiguration("GroupConsumerConf.group is empty; name the consumer group")
        }
        guard !topics.isEmpty else {
            throw .invalidConfiguration("GroupConsumerConf.topics is empty; name at least one topic to subscribe to")
        }
        for topic in topics { try validateTopicName(topic) }
        if let instanceID, instanceID.isEmpty {
            throw .invalidConfiguration("GroupConsumerConf.instanceID is empty; use nil for dynamic membership")
        }
        guard sessionTimeout >= .seconds(1), sessionTimeout <= .seconds(3600) else {
            throw .invalidConfiguration("GroupConsumerConf.sessionTimeout is \(sessionTimeout); use 1 s to 1 hour")
        }
        guard heartbeatInterval >= .milliseconds(1), heartbeatInterval < sessionTimeout else {
            throw .invalidConfiguration("GroupConsumerConf.heartbeatInterval is \(heartbeatInterval); it must be positive and below sessionTimeout")
        }
        if case .offset(let value) = startOffset {
            throw .invalidConfiguration("GroupConsumerConf.startOffset is .offset(\(value)); a group starts at .oldest or .newest (seek for an offset)")
        }
        if case .automatic(let interval) = commitPolicy {
            try requirePositive(interval, "GroupConsumerConf.commitPolicy interval")
        }
        guard retryLimit >= -1 else {
            throw .invalidConfiguration("GroupConsumerConf.retryLimit is \(retryLimit); use -1 for no limit or a count of 0 or more")
        }
        try requireAtLeastOne(retryErrLimit, "GroupConsumerConf.retryErrLimit")
        try requirePositive(requestTimeout, "GroupConsumerConf.requestTimeout")
        if let fetchWait { try requirePositive(fetchWait, "GroupConsumerConf.fetchWait") }
        try requirePositive(closeTimeout, "GroupConsumerConf.closeTimeout")
        try requireNotNegative(retryWait, "GroupConsumerConf.retryWait")
        try requireNotNegative(retryErrWait, "GroupConsumerConf.retryErrWait")
    }

    /// librdkafka properties of the group's handle.
    func librdkafkaProperties() -> [(String, String)] {
        var result: [(String, String)] = [
            ("group.id", group),
            ("partition.assignment.strategy", assignmentStrategy.rawValue),
            ("session.timeout.ms", "\(sessionTimeout.milliseconds)"),
            ("heartbeat.interval.ms", "\(heartbeatInterval.milliseconds)"),
            ("auto.offset.reset", startOffset == .newest ? "latest" : "earliest"),
            ("fetch.wait.max.ms", "\(fetchWaitMilliseconds(fetchWait, requestTimeout: requestTimeout))"),
            ("enable.auto.offset.store", "false"),
            ("enable.partition.eof", "false"),
            ("isolation.level", isolation.rawValue),
            // All assigned partitions share one local queue, and librdkafka 2.0.x stops fetching
            // every one of them once it holds `queued.min.messages` (default 100,000) in total,
            // resuming only at its broker thread's next 1 s tick: with a backlog, a member stalled
            // about once per 100,000 messages (measured 0.85 s pauses). The byte bound
            // (`queued.max.messages.kbytes`, 64 MiB) limits the prefetch instead.
            ("queued.min.messages", "1000000"),
        ]
        switch commitPolicy {
        case .automatic(let interval):
            result += [("enable.auto.commit", "true"), ("auto.commit.interval.ms", "\(max(1, interval.milliseconds))")]
        case .manual:
            result.append(("enable.auto.commit", "false"))
        }
        if let instanceID { result.append(("group.instance.id", instanceID)) }
        return result + properties.keys.sorted().map { ($0, properties[$0] ?? "") }
    }
}

/// The service's code for rebalances. Each hook runs inside librdkafka's rebalance handling,
/// on the thread that is consuming, before the change takes effect: ``onRevoked`` runs before
/// librdkafka gives the partitions up, so the service can commit what it processed or flush
/// its state (``Rebalance/commit()``). A hook that throws is logged and reported by
/// ``GroupConsumer/takeRebalanceError()``; the rebalance goes on, so the group is never wedged.
public struct RebalanceHooks: Sendable {
    /// Partitions given to this member (all of them with the eager protocols, the new ones with
    /// cooperative-sticky), before they are read.
    public var onAssigned: (@Sendable (Rebalance) throws -> Void)?
    /// Partitions about to be taken away, while this member still owns them.
    public var onRevoked: (@Sendable (Rebalance) throws -> Void)?
    /// Partitions this member lost without an orderly revoke (it was evicted, e.g. after
    /// missing heartbeats): another member may already read them, so commits would fail.
    public var onLost: (@Sendable (Rebalance) throws -> Void)?

    /// No hooks.
    public init(
        onAssigned: (@Sendable (Rebalance) throws -> Void)? = nil,
        onRevoked: (@Sendable (Rebalance) throws -> Void)? = nil,
        onLost: (@Sendable (Rebalance) throws -> Void)? = nil
    ) {
        self.onAssigned = onAssigned
        self.onRevoked = onRevoked
        self.onLost = onLost
    }
}
