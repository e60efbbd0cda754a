import CoreMetrics
import Kafka
import Synchronization

/// Where a ``KafkaMetricsReporter`` reads librdkafka statistics JSON from: any handle whose
/// latest document can be read without blocking, such as `Broker.latestStatistics()`.
public struct StatisticsSource: Sendable {
    let read: @Sendable () -> String?
    let dimensions: [(String, String)]

    /// A source that reads the latest document with `read` (nil before the first one).
    /// - Parameters:
    ///   - dimensions: added to every metric of this source, e.g.
    ///     `("messaging.consumer.group.name", "billing")` for a group consumer's handle.
    ///   - read: returns the handle's latest statistics JSON, or nil; called on every update.
    public init(dimensions: [(String, String)] = [], read: @escaping @Sendable () -> String?) {
        self.read = read
        self.dimensions = dimensions
    }

    /// The statistics of `broker`'s main handle: metadata, watermarks and the producers with
    /// default settings. The broker must be dialled with the `statistics.interval.ms` property.
    /// The source holds the broker weakly.
    public static func broker(_ broker: Broker, dimensions: [(String, String)] = []) -> StatisticsSource {
        StatisticsSource(dimensions: dimensions) { [weak broker] in broker?.latestStatistics() }
    }

    /// The statistics of `sender`'s own handle: records queued (``KafkaMetricName/queuedMessages``,
    /// ``KafkaMetricName/queuedBytes``: the sender's queue depth), sent, and its brokers' requests
    /// and errors. Give `statistics.interval.ms` in `SenderConf.properties` or the broker's;
    /// give the source a dimension (such as a client id) apart from the broker's. The count of
    /// failed deliveries is `Sender.failedDeliveries`. The source holds the sender weakly.
    public static func sender(_ sender: Sender, dimensions: [(String, String)] = []) -> StatisticsSource {
        StatisticsSource(dimensions: dimensions) { [weak sender] in sender?.latestStatistics() }
    }

    /// The statistics of `group`'s own handle: consumed messages and bytes, lag and committed
    /// offsets per partition, rebalances, group state and assignment size, with the group's
    /// name as `messaging.consumer.group.name`. Give `statistics.interval.ms` in the broker's
    /// or the group's `properties`. The source holds the consumer weakly.
    public static func group(_ group: GroupConsumer) -> StatisticsSource {
        StatisticsSource(dimensions: [("messaging.consumer.group.name", group.conf.group)]) { [weak group] in group?.latestStatistics() }
    }
}

/// Turns librdkafka statistics into swift-metrics counters and gauges, and watches group
/// consumers' lag, on its own schedule: nothing runs on the produce or consume path, and the
/// statistics JSON is decoded here, at most once per document.
///
/// ```swift
/// var brokerConf = BrokerConf(clientID: "billing")
/// brokerConf.properties["statistics.interval.ms"] = "5000"
/// let broker = try await Broker.dial(addresses, conf: brokerConf)
/// let reporter = KafkaMetricsReporter(interval: .seconds(5))
/// reporter.add(.broker(broker))
/// var groupConf = GroupConsumerConf(group: "billing", topics: ["orders"])
/// reporter.instrument(&groupConf)            // counts rebalanced partitions
/// let group = try await broker.groupConsumer(groupConf)
/// reporter.watch(group, clientID: "billing") // lag and assignment size
/// let metrics = Task { await reporter.run() }  // cancel it at shutdown
/// ```
///
/// Counters get the difference between two documents of one source (the first document
/// counts in full); gauges the latest value. Two sources with equal dimensions add to the same
/// counters and overwrite each other's gauges: give handles distinct client ids.
/// The metric names and dimensions are listed in ``KafkaMetricName``.
public final class KafkaMetricsReporter: Sendable {
    /// How long ``run()`` waits between two updates.
    public let interval: Duration
    private let dimensions: [(String, String)]
    private let factory: any MetricsFactory
    private let state = Mutex(State())

    /// A reporter that records into `factory` (by default the one bootstrapped, or the
    /// task-local one of `withMetricsFactory`, when the reporter is made).
    /// - Parameters:
    ///   - interval: how long ``run()`` waits between two updates.
    ///   - dimensions: added to every metric, e.g. `("service", "billing")`.
    ///   - factory: the swift-metrics factory the metrics are made with.
    public init(interval: Duration = .seconds(5), dimensions: [(String, String)] = [], factory: any MetricsFactory = MetricsSystem.factory) {
        self.interval = interval
        self.dimensions = dimensions
        self.factory = factory
    }

    /// Reports the statistics `source` emits from the next update on.
    public func add(_ source: StatisticsSource) {
        state.withLock { state in
            state.sources.append(SourceState(id: state.nextID, source: source))
            state.nextID += 1
        }
    }

    /// Reports `group`'s lag per assigned partition (`GroupConsumer.lag()`, which asks
    /// no broker) and its assignment size from the next update on, until it is closed.
    /// - Parameters:
    ///   - group: the group member to watch.
    ///   - clientID: the `messaging.client.id` dimension, when wanted.
    ///   - dimensions: added to the member's metrics.
    public func watch(_ group: GroupConsumer, clientID: String? = nil, dimensions: [(String, String)] = []) {
        var extra = [(String, String)]()
        if let clientID { extra.append((KafkaMetricName.Dimension.clientID, clientID)) }
        extra.append((KafkaMetricName.Dimension.consumerGroup, group.conf.group))
        state.withLock { state in
            state.groups.append(GroupState(id: state.nextID, group: group, dimensions: extra + dimensions))
            state.nextID += 1
        }
    }

    /// Reports `sender`'s failed deliveries (``KafkaMetricName/failedDeliveries``, a counter) and
    /// records in flight (``KafkaMetricName/inFlightRecords``) from the next update on, for as long
    /// as the sender exists (the reporter holds it weakly). Unlike its statistics, these need no
    /// `statistics.interval.ms`.
    /// - Parameters:
    ///   - sender: the sender to watch.
    ///   - clientID: the `messaging.client.id` dimension, when wanted.
    ///   - dimensions: added to the sender's metrics.
    public func watch(_ sender: Sender, clientID: String? = nil, dimensions: [(String, String)] = []) {
        var extra = [(KafkaMetricName.Dimension.system, "kafka")]
        if let clientID { extra.append((KafkaMetricName.Dimension.clientID, clientID)) }
        state.withLock { state in
            state.senders.append(SenderState(id: state.nextID, sender: WeakSender(sender), dimensions: extra + dimensions))
            state.nextID += 1
        }
    }

    /// Reports `loop`'s messages in flight (``KafkaMetricName/processingInFlight``) and, per
    /// partition, its waiting and held-back messages (``KafkaMetricName/processingWaiting``,
    /// ``KafkaMetricName/processingHeldBack``) from the next update on, for as long as the loop
    /// exists (the reporter holds it weakly).
    /// - Parameters:
    ///   - loop: the processing loop to watch.
    ///   - group: the `messaging.consumer.group.name` dimension, when wanted.
    ///   - dimensions: added to the loop's metrics.
    public func watch<Consumer: ProcessableConsumer>(_ loop: ProcessingLoop<Consumer>, group: String? = nil, dimensions: [(String, String)] = []) {
        var extra = [(KafkaMetricName.Dimension.system, "kafka")]
        if let group { extra.append((KafkaMetricName.Dimension.consumerGroup, group)) }
        weak let weakLoop = loop
        let read: @Sendable () -> (Int, [TopicPartition: ProcessingBacklog])? = {
            guard let loop = weakLoop else { return nil }
            return (loop.inFlight, loop.backlog)
        }
        state.withLock { state in
            state.loops.append(LoopState(id: state.nextID, read: read, dimensions: extra + dimensions))
            state.nextID += 1
        }
    }

    /// Reports the lag of consumer group `group` in `topics` (nil: every topic it committed in),
    /// asked of the cluster through `admin` on every update of ``run()`` (or ``updateGroupLag()``):
    /// ``KafkaMetricName/consumerLag`` and ``KafkaMetricName/committedOffset`` per partition, with
    /// the group as `messaging.consumer.group.name`. The group need not be served by this process
    /// (what `kadm.Lag` gives franz-go users). An update whose query fails keeps the last values.
    /// - Parameters:
    ///   - group: the consumer group.
    ///   - topics: the topics to report; nil for every topic the group committed in.
    ///   - admin: `KafkaAdmin` (`broker.admin`) or an in-memory double.
    ///   - dimensions: added to the group's metrics.
    public func watchLag(ofGroup group: String, topics: [String]? = nil, admin: any AdminClient, dimensions: [(String, String)] = []) {
        let extra = [(KafkaMetricName.Dimension.system, "kafka"), (KafkaMetricName.Dimension.consumerGroup, group)]
        state.withLock { state in
            state.groupLags.append(GroupLagState(id: state.nextID, group: group, topics: topics, admin: admin, dimensions: extra + dimensions))
            state.nextID += 1
        }
    }

    /// Asks the cluster for the lag of every group watched with ``watchLag(ofGroup:topics:admin:dimensions:)``
    /// and records it. The queries run outside the reporter's lock, one after another.
    public func updateGroupLag() async {
        let watched = state.withLock { $0.groupLags }
        for entry in watched {
            guard let lag = try? await entry.admin.lag(group: entry.group, topics: entry.topics) else { continue }
            state.withLock { state in
                var recorder = Recorder(factory: factory, state: state.metrics)
                recorder.record(groupLag: lag, source: entry.id, dimensions: entry.dimensions + self.dimensions)
                state.metrics = recorder.state
            }
        }
    }

    /// Wraps `conf`'s rebalance hooks (they still run, first) so that every partition
    /// assigned, revoked or lost adds to ``KafkaMetricName/rebalancedPartitions``.
    public func instrument(_ conf: inout GroupConsumerConf, clientID: String? = nil, dimensions: [(String, String)] = []) {
        var base = [(KafkaMetricName.Dimension.system, "kafka")]
        if let clientID { base.append((KafkaMetricName.Dimension.clientID, clientID)) }
        base.append((KafkaMetricName.Dimension.consumerGroup, conf.group))
        base += self.dimensions + dimensions
        let factory = self.factory
        func counting(_ hook: (@Sendable (Rebalance) throws -> Void)?, _ change: String) -> @Sendable (Rebalance) throws -> Void {
            let counter = Counter(
                label: KafkaMetricName.rebalancedPartitions,
                dimensions: base + [(KafkaMetricName.Dimension.rebalanceChange, change)], factory: factory
            )
            let box = UncheckedBox(counter)
            return { rebalance in
                box.value.increment(by: rebalance.partitions.count)
                try hook?(rebalance)
            }
        }
        conf.rebalance.onAssigned = counting(conf.rebalance.onAssigned, "assigned")
        conf.rebalance.onRevoked = counting(conf.rebalance.onRevoked, "revoked")
        conf.rebalance.onLost = counting(conf.rebalance.onLost, "lost")
    }

    /// Updates every ``interval`` until the task is cancelled.
    public func run() async {
        while !Task.isCancelled {
            update()
            await updateGroupLag()
            try? await Task.sleep(for: interval)
        }
    }

    /// Reads every source and watched group once and records what changed. A document equal to
    /// the last one of its source is not decoded again; one that does not decode is skipped.
    public func update() {
        state.withLock { state in
            var recorder = Recorder(factory: factory, state: state.metrics)
            for index in state.sources.indices {
                let source = state.sources[index]
                guard let json = source.source.read(), json != source.lastDocument else { continue }
                state.sources[index].lastDocument = json
                guard let statistics = try? KafkaStatistics(json: json) else { continue }
                recorder.record(statistics, source: source.id, dimensions: self.dimensions + source.source.dimensions)
            }
            state.groups.removeAll { group in
                guard let lag = try? group.group.lag() else {
                    recorder.forget(source: group.id)
                    return true
                }
                recorder.record(lag: lag, source: group.id, dimensions: [(KafkaMetricName.Dimension.system, "kafka")] + group.dimensions + self.dimensions)
                return false
            }
            state.senders.removeAll { watched in
                guard let sender = watched.sender.value else {
                    recorder.forget(source: watched.id)
                    return true
                }
                let dimensions = watched.dimensions + self.dimensions
                recorder.count(KafkaMetricName.failedDeliveries, Int64(sender.failedDeliveries), dimensions, source: watched.id)
                recorder.gauge(KafkaMetricName.inFlightRecords, Double(sender.inFlight), dimensions)
                recorder.finish(source: watched.id)
                return false
            }
            state.loops.removeAll { watched in
                guard let (inFlight, backlog) = watched.read() else {
                    recorder.forget(source: watched.id)
                    return true
                }
                typealias D = KafkaMetricName.Dimension
                let dimensions = watched.dimensions + self.dimensions
                recorder.gauge(KafkaMetricName.processingInFlight, Double(inFlight), dimensions)
                for (partition, stand) in backlog {
                    let at = dimensions + [(D.destination, partition.topic), (D.partition, "\(partition.partition)")]
                    recorder.gauge(KafkaMetricName.processingWaiting, Double(stand.waiting), at)
                    recorder.gauge(KafkaMetricName.processingHeldBack, Double(stand.heldBack), at)
                }
                recorder.finish(source: watched.id)
                return false
            }
            state.metrics = recorder.state
        }
    }

    private struct LoopState {
        let id: Int
        let read: @Sendable () -> (Int, [TopicPartition: ProcessingBacklog])?
        let dimensions: [(String, String)]
    }

    private struct SenderState {
        let id: Int
        let sender: WeakSender
        let dimensions: [(String, String)]
    }

    private struct SourceState {
        let id: Int
        let source: StatisticsSource
        var lastDocument: String?
    }

    private struct GroupState {
        let id: Int
        let group: GroupConsumer
        let dimensions: [(String, String)]
    }

    private struct State {
        var nextID = 0
        var sources: [SourceState] = []
        var groups: [GroupState] = []
        var senders: [SenderState] = []
        var groupLags: [GroupLagState] = []
        var loops: [LoopState] = []
        var metrics = Recorder.State()
    }

    private struct GroupLagState: Sendable {
        let id: Int
        let group: String
        let topics: [String]?
        let admin: any AdminClient
        let dimensions: [(String, String)]
    }
}

/// A sender the reporter watches without keeping it alive.
private struct WeakSender: Sendable {
    weak var value: Sender?
    init(_ value: Sender) { self.value = value }
}

/// Holds a swift-metrics object that its handler makes thread-safe.
private struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// Records one document into cached metrics; counters get the difference to the last value
/// of the same source.
private struct Recorder {
    struct State {
        var counters: [String: Counter] = [:]
        var gauges: [String: Gauge] = [:]
        /// Last cumulative value per source and counter key.
        var totals: [Int: [String: Int64]] = [:]
        /// Gauge keys per source, to drop those a source no longer reports.
        var gaugeKeys: [Int: Set<String>] = [:]
    }

    let factory: any MetricsFactory
    var state: State
    private var seenGauges: Set<String> = []

    init(factory: any MetricsFactory, state: State) {
        self.factory = factory
        self.state = state
    }

    private static func key(_ label: String, _ dimensions: [(String, String)]) -> String {
        dimensions.reduce(into: label) { $0 += "|\($1.0)=\($1.1)" }
    }

    mutating func count(_ label: String, _ total: Int64?, _ dimensions: [(String, String)], source: Int) {
        guard let total, total >= 0 else { return }
        let key = Self.key(label, dimensions)
        let previous = state.totals[source]?[key] ?? 0
        state.totals[source, default: [:]][key] = total
        let delta = total >= previous ? total - previous : total  // a smaller total: the handle restarted
        guard delta > 0 else { return }
        let counter = state.counters[key] ?? Counter(label: label, dimensions: dimensions, factory: factory)
        state.counters[key] = counter
        counter.increment(by: delta)
    }

    mutating func gauge(_ label: String, _ value: Double?, _ dimensions: [(String, String)]) {
        guard let value else { return }
        let key = Self.key(label, dimensions)
        let gauge = state.gauges[key] ?? Gauge(label: label, dimensions: dimensions, factory: factory)
        state.gauges[key] = gauge
        gauge.record(value)
        seenGauges.insert(key)
    }

    /// Keeps a gauge this document has no new value for.
    mutating func keep(_ label: String, _ dimensions: [(String, String)]) {
        let key = Self.key(label, dimensions)
        if state.gauges[key] != nil { seenGauges.insert(key) }
    }

    /// Destroys the gauges `source` reported before but not in this document (partitions gone).
    mutating func finish(source: Int) {
        for key in (state.gaugeKeys[source] ?? []).subtracting(seenGauges) {
            state.gauges.removeValue(forKey: key)?.destroy()
        }
        state.gaugeKeys[source] = seenGauges
        seenGauges = []
    }

    mutating func forget(source: Int) {
        finish(source: source)
        state.totals[source] = nil
        state.gaugeKeys[source] = nil
    }

    mutating func record(_ statistics: KafkaStatistics, source: Int, dimensions extra: [(String, String)]) {
        typealias D = KafkaMetricName.Dimension
        var base = [(D.system, "kafka")]
        if let client = statistics.client_id { base.append((D.clientID, client)) }
        base += extra

        if statistics.type == "producer" {
            gauge(KafkaMetricName.queuedMessages, statistics.msg_cnt.map(Double.init), base)
            gauge(KafkaMetricName.queuedBytes, statistics.msg_size.map(Double.init), base)
        }

        for topic in (statistics.topics ?? [:]).values {
            for partition in (topic.partitions ?? [:]).values where partition.partition >= 0 {
                let dims = base + [(D.destination, topic.topic), (D.partition, "\(partition.partition)")]
                count(KafkaMetricName.sentMessages, partition.txmsgs, dims, source: source)
                count(KafkaMetricName.sentBytes, partition.txbytes, dims, source: source)
                count(KafkaMetricName.consumedMessages, partition.rxmsgs, dims, source: source)
                count(KafkaMetricName.consumedBytes, partition.rxbytes, dims, source: source)
                if let hi = partition.hi_offset, hi >= 0 { gauge(KafkaMetricName.highWatermark, Double(hi), dims) }
                if statistics.type == "consumer" {
                    if let lag = partition.consumer_lag, lag >= 0 { gauge(KafkaMetricName.consumerLag, Double(lag), dims) }
                    if let committed = partition.committed_offset, committed >= 0 {
                        gauge(KafkaMetricName.committedOffset, Double(committed), dims)
                    }
                }
            }
        }

        for broker in (statistics.brokers ?? [:]).values where broker.nodeid >= 0 {
            var dims = base + [(D.brokerID, "\(broker.nodeid)")]
            if let name = broker.nodename, let colon = name.lastIndex(of: ":") {
                dims += [(D.serverAddress, String(name[..<colon])), (D.serverPort, String(name[name.index(after: colon)...]))]
            }
            gauge(KafkaMetricName.outboundRequests, broker.outbuf_cnt.map(Double.init), dims)
            gauge(KafkaMetricName.inflightRequests, broker.waitresp_cnt.map(Double.init), dims)
            if let rtt = broker.rtt, (rtt.cnt ?? 0) > 0 {
                gauge(KafkaMetricName.rttAverage, rtt.avg.map { Double($0) / 1_000_000 }, dims)
                gauge(KafkaMetricName.rttP99, rtt.p99.map { Double($0) / 1_000_000 }, dims)
            } else {  // a window without requests: the last values stand
                keep(KafkaMetricName.rttAverage, dims)
                keep(KafkaMetricName.rttP99, dims)
            }
            count(KafkaMetricName.transmitErrors, broker.txerrs, dims, source: source)
            count(KafkaMetricName.receiveErrors, broker.rxerrs, dims, source: source)
            count(KafkaMetricName.requestTimeouts, broker.req_timeouts, dims, source: source)
            count(KafkaMetricName.requestRetries, broker.txretries, dims, source: source)
            for (api, total) in broker.req ?? [:] {
                count(KafkaMetricName.requests, total, dims + [(D.requestType, api)], source: source)
            }
        }

        if let group = statistics.cgrp {
            count(KafkaMetricName.rebalances, group.rebalance_cnt, base, source: source)
            gauge(KafkaMetricName.assignedPartitions, group.assignment_size.map(Double.init), base)
            if let state = group.state {
                gauge(KafkaMetricName.groupStable, state == "up" && group.join_state == "steady" ? 1 : 0, base)
            }
        }
        if let eos = statistics.eos, let idempotence = eos.idemp_state {
            gauge(KafkaMetricName.idempotenceReady, idempotence == "Assigned" ? 1 : 0, base)
        }
        finish(source: source)
    }

    /// A group's lag as the cluster reports it: lag and committed offset per partition.
    mutating func record(groupLag: [TopicPartition: GroupLag], source: Int, dimensions base: [(String, String)]) {
        typealias D = KafkaMetricName.Dimension
        for (partition, value) in groupLag {
            let dimensions = base + [(D.destination, partition.topic), (D.partition, "\(partition.partition)")]
            gauge(KafkaMetricName.consumerLag, Double(value.lag), dimensions)
            gauge(KafkaMetricName.committedOffset, Double(value.committed), dimensions)
        }
        finish(source: source)
    }

    mutating func record(lag: [TopicPartition: Int64], source: Int, dimensions base: [(String, String)]) {
        typealias D = KafkaMetricName.Dimension
        for (partition, value) in lag where value >= 0 {
            gauge(KafkaMetricName.consumerLag, Double(value), base + [(D.destination, partition.topic), (D.partition, "\(partition.partition)")])
        }
        gauge(KafkaMetricName.assignedPartitions, Double(lag.count), base)
        finish(source: source)
    }
}
