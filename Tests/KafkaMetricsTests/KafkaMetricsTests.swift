import Foundation
import Synchronization
import Kafka
import KafkaMetrics
import KafkaTest
import MetricsTestKit
import Testing
import KafkaTestSupport

private typealias Name = KafkaMetricName
private typealias D = KafkaMetricName.Dimension

/// Calls `update` and checks `condition` every 20 ms until it holds, for at most `timeout`.
private func eventually(
    _ reporter: KafkaMetricsReporter, timeout: Duration = .seconds(20), _ condition: () throws -> Bool
) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        reporter.update()
        if try condition() { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return false
}

private func partition(_ topic: String, _ id: Int) -> [(String, String)] {
    [(D.destination, topic), (D.partition, "\(id)")]
}

private extension TestMetrics {
    func gauge(_ label: String, _ dimensions: [(String, String)]) -> Double? {
        recorders(label: label, dimensions: dimensions).first?.lastValue
    }
}

/// Every metric test records into its own `TestMetrics`, passed to the reporter (no global
/// bootstrap); serialized anyway, as the embedded clusters compete for the same two cores.
@Suite("KafkaMetrics", .ownThreads, .serialized, .timeLimit(.minutes(3)))
struct KafkaMetricsTests {
    @Test("a sender's own statistics: records sent are counted from its handle")
    func senderStatistics() async throws {
        try await withMockCluster(brokers: 1, topics: ["sent": 2]) { cluster in
            let metrics = TestMetrics()
            let broker = try await Broker.dial(cluster.addresses)
            defer { broker.close() }
            var conf = SenderConf()
            conf.properties["statistics.interval.ms"] = "100"
            let sender = try broker.sender(conf)
            for index in 0..<10 { _ = try await sender.send(Message(key: "k\(index)", value: "v"), to: "sent") }
            #expect(await sender.flush(timeout: .seconds(10)) == 0)
            let reporter = KafkaMetricsReporter(interval: .milliseconds(100), factory: metrics)
            reporter.add(.sender(sender, dimensions: [(D.clientID, "sender")]))
            let counted = try await eventually(reporter, timeout: .seconds(30)) { metrics.counterTotal(label: Name.sentMessages) == 10 }
            #expect(counted, "sent \(metrics.counterTotal(label: Name.sentMessages))")
            #expect(sender.failedDeliveries == 0)
        }
    }

    @Test("a watched sender: failed deliveries are counted and records in flight reported, without statistics")
    func senderFailures() async throws {
        try await withMockCluster(brokers: 1, topics: ["lost": 1]) { cluster in
            let metrics = TestMetrics()
            let broker = try await Broker.dial(cluster.addresses)
            defer { broker.close() }
            var conf = SenderConf()
            conf.deliveryTimeout = .milliseconds(500)
            let sender = try broker.sender(conf)
            let reporter = KafkaMetricsReporter(interval: .milliseconds(100), factory: metrics)
            reporter.watch(sender, clientID: "lossy")
            try cluster.setDown(broker: nil)
            for index in 0..<4 { _ = try await sender.send(Message(value: "v\(index)"), to: "lost", partition: 0) }
            let failed = try await eventually(reporter, timeout: .seconds(30)) { metrics.counterTotal(label: Name.failedDeliveries) == 4 }
            #expect(failed, "failed deliveries counted: \(metrics.counterTotal(label: Name.failedDeliveries)) (the sender says \(sender.failedDeliveries))")
            #expect(sender.failedDeliveries == 4)
        }
    }

    @Test("a group's lag asked of the cluster: lag and committed offset per partition, for a group this process is not in")
    func groupLagFromTheCluster() async throws {
        try await withMockCluster(brokers: 1, topics: ["billed": 2]) { cluster in
            let metrics = TestMetrics()
            let broker = try await Broker.dial(cluster.addresses)
            defer { broker.close() }
            try await broker.producer().produce("billed", partition: 0, messages: (0..<7).map { Message(value: "v\($0)") })
            try await broker.resetOffsets(group: "billing", to: [TopicPartition("billed", 0): 2, TopicPartition("billed", 1): 0])
            let reporter = KafkaMetricsReporter(factory: metrics)
            reporter.watchLag(ofGroup: "billing", topics: ["billed"], admin: broker.admin)
            await reporter.updateGroupLag()
            let group = [(D.system, "kafka"), (D.consumerGroup, "billing")]
            #expect(metrics.gauge(Name.consumerLag, group + partition("billed", 0)) == 5)
            #expect(metrics.gauge(Name.committedOffset, group + partition("billed", 0)) == 2)
            #expect(metrics.gauge(Name.consumerLag, group + partition("billed", 1)) == 0)
            try await broker.resetOffsets(group: "billing", to: [TopicPartition("billed", 0): 6])
            await reporter.updateGroupLag()
            #expect(metrics.gauge(Name.consumerLag, group + partition("billed", 0)) == 1)
        }
    }

    @Test("a watched processing loop: messages in flight, and per partition the waiting and held-back ones")
    func processingLoop() async throws {
        let metrics = TestMetrics()
        let broker = MockBroker(topics: ["jobs": 1])
        defer { broker.close() }
        // Offset 1 never finishes; offsets 2...5 (other keys) finish and wait behind it for the commit.
        broker.addMessages("jobs", partition: 0, (0..<6).map { Message(key: "k\($0)", value: "v") })
        var group = GroupConsumerConf(group: "workers", topics: ["jobs"])
        group.retryLimit = -1
        var conf = ProcessingConf()
        conf.revokeDeadline = .milliseconds(100)
        let handled = Mutex(0)
        let loop = try ProcessingLoop(broker: broker, group: group, conf: conf) { message in
            if message.offset == 1 { try await Task.sleep(for: .seconds(3600)) }
            handled.withLock { $0 += 1 }
        }
        let reporter = KafkaMetricsReporter(factory: metrics)
        reporter.watch(loop, group: "workers")
        let running = Task { try await loop.run() }
        let dims = [(D.system, "kafka"), (D.consumerGroup, "workers")]
        let seen = try await eventually(reporter) {
            handled.withLock { $0 } == 5 && metrics.gauge(Name.processingHeldBack, dims + partition("jobs", 0)) == 4
        }
        #expect(seen, "held back: \(String(describing: metrics.gauge(Name.processingHeldBack, dims + partition("jobs", 0))))")
        #expect(metrics.gauge(Name.processingInFlight, dims) == 1)
        #expect(metrics.gauge(Name.processingWaiting, dims + partition("jobs", 0)) == 0)
        running.cancel()
        try await running.value
    }

    @Test("a group consumer's own statistics: consumed messages counted, lag 0 after catching up")
    func groupStatistics() async throws {
        try await withMockCluster(brokers: 1, topics: ["reads": 1]) { cluster in
            let metrics = TestMetrics()
            var brokerConf = BrokerConf(clientID: "metrics-group")
            brokerConf.properties["statistics.interval.ms"] = "100"
            let broker = try await Broker.dial(cluster.addresses, conf: brokerConf)
            defer { broker.close() }
            try await broker.producer().produce("reads", partition: 0, messages: (0..<6).map { Message(value: "r\($0)") })
            var conf = GroupConsumerConf(group: "readers", topics: ["reads"])
            conf.sessionTimeout = .milliseconds(4000)
            conf.heartbeatInterval = .milliseconds(300)
            conf.retryLimit = 100
            let group = try await broker.groupConsumer(conf)
            defer { group.close() }
            for _ in 0..<6 { _ = try await group.consume() }
            let reporter = KafkaMetricsReporter(interval: .milliseconds(100), factory: metrics)
            reporter.add(.group(group))
            let consumer = Task { try? await group.consume() }  // keeps the member fetching, so statistics keep coming
            defer { consumer.cancel() }
            // A generous bound: the lag appears once librdkafka's statistics carry the member's
            // committed position, which a loaded machine delays.
            let counted = try await eventually(reporter, timeout: .seconds(60)) {
                metrics.counterTotal(label: Name.consumedMessages) == 6
                    && metrics.recorders.contains { $0.label == Name.consumerLag && $0.lastValue == 0
                        && $0.dimensions.contains { $0 == (D.consumerGroup, "readers") } }
            }
            #expect(counted, "consumed \(metrics.counterTotal(label: Name.consumedMessages))")
        }
    }

    @Test("produce and consume on the embedded cluster: counters match the messages, lag goes to 0 after catching up")
    func endToEnd() async throws {
        try await withMockCluster(brokers: 1, topics: ["orders": 2]) { cluster in
            let metrics = TestMetrics()
            var brokerConf = BrokerConf(clientID: "metrics-e2e")
            brokerConf.properties["statistics.interval.ms"] = "100"
            let broker = try await Broker.dial(cluster.addresses, conf: brokerConf)
            defer { broker.close() }
            let reporter = KafkaMetricsReporter(interval: .milliseconds(100), dimensions: [("service", "test")], factory: metrics)
            reporter.add(.broker(broker))

            let producer = try broker.producer()
            let values = (0..<10).map { "order-\($0)" }
            try await producer.produce("orders", partition: 0, messages: values.map { Message(value: $0) })
            try await producer.produce("orders", partition: 1, messages: (0..<7).map { Message(value: "x\($0)") })
            let produced = try await eventually(reporter) { metrics.counterTotal(label: Name.sentMessages) == 17 }
            #expect(produced)

            var groupConf = GroupConsumerConf(group: "billing", topics: ["orders"])
            groupConf.sessionTimeout = .milliseconds(4000)
            groupConf.heartbeatInterval = .milliseconds(300)
            groupConf.retryLimit = 150
            groupConf.commitPolicy = .manual
            reporter.instrument(&groupConf, clientID: "metrics-e2e")
            let group = try await broker.groupConsumer(groupConf)
            defer { group.close() }
            reporter.watch(group, clientID: "metrics-e2e")
            for _ in 0..<17 { _ = try await group.consume() }

            let caughtUp = try await eventually(reporter) {
                metrics.counterTotal(label: Name.sentMessages) == 17
                    && metrics.gauge(Name.consumerLag, partition("orders", 0)) == 0
                    && metrics.gauge(Name.consumerLag, partition("orders", 1)) == 0
            }
            #expect(caughtUp)
            #expect(metrics.counterTotal(label: Name.sentMessages, dimensions: partition("orders", 0)) == 10)
            #expect(metrics.counterTotal(label: Name.sentMessages, dimensions: partition("orders", 1)) == 7)
            let common = [(D.system, "kafka"), (D.clientID, "metrics-e2e"), ("service", "test")]
            #expect(metrics.counters(label: Name.sentMessages, dimensions: common).count == 2)
            #expect(metrics.counterTotal(label: Name.sentBytes, dimensions: partition("orders", 0)) == Int64(values.joined().utf8.count))
            #expect(metrics.counterTotal(label: Name.requests, dimensions: [(D.requestType, "Produce")]) >= 2)
            #expect(metrics.counters(label: Name.requests, dimensions: [(D.brokerID, "1"), (D.serverPort, cluster.addresses[0].split(separator: ":").last.map(String.init) ?? "")]).isEmpty == false)
            #expect(metrics.gauge(Name.queuedMessages, common) == 0)
            // The round-trip time is reported only for statistics windows that had requests, which a
            // loaded machine can miss: checked when present.
            #expect(metrics.gauge(Name.rttAverage, [(D.brokerID, "1")]).map { $0 > 0 && $0 < 10 } != false)
            #expect(metrics.gauge(Name.rttP99, [(D.brokerID, "1")]).map { $0 > 0 && $0 < 10 } != false)
            #expect(metrics.gauge(Name.outboundRequests, [(D.brokerID, "1")]) != nil)
            #expect(metrics.counterTotal(label: Name.transmitErrors) == 0)
            let groupDims = [(D.consumerGroup, "billing"), (D.clientID, "metrics-e2e")]
            #expect(metrics.gauge(Name.assignedPartitions, groupDims) == 2)
            #expect(metrics.counterTotal(label: Name.rebalancedPartitions, dimensions: groupDims + [(D.rebalanceChange, "assigned")]) == 2)

            // More messages arrive: the lag grows while unread, and drops to 0 once read.
            try await producer.produce("orders", partition: 0, messages: (0..<5).map { Message(value: "late-\($0)") })
            let lagging = try await eventually(reporter) { metrics.gauge(Name.consumerLag, partition("orders", 0)) == 5 }
            #expect(lagging)
            for _ in 0..<5 { _ = try await group.consume() }
            let readAgain = try await eventually(reporter) {
                metrics.gauge(Name.consumerLag, partition("orders", 0)) == 0 && metrics.counterTotal(label: Name.sentMessages) == 22
            }
            #expect(readAgain)
            #expect(metrics.counterTotal(label: Name.sentMessages, dimensions: partition("orders", 0)) == 15)

            // A closed group consumer is dropped, and its gauges with it.
            group.close()
            reporter.update()
            #expect(metrics.recorders(label: Name.consumerLag).isEmpty)
        }
    }

    @Test("a consumer's statistics: consumed counters get the difference between documents, lag, committed offsets, rebalances")
    func consumerStatistics() throws {
        let metrics = TestMetrics()
        let documents = DocumentQueue([
            consumerDocument(rxmsgs: [0: 4, 1: 0], rxbytes: [0: 40, 1: 0], lag: [0: 6, 1: 3], rebalances: 1),
            consumerDocument(rxmsgs: [0: 10, 1: 3], rxbytes: [0: 100, 1: 30], lag: [0: 0, 1: 0], rebalances: 1),
            consumerDocument(rxmsgs: [0: 12], rxbytes: [0: 120], lag: [0: 0], rebalances: 2),
        ])
        let reporter = KafkaMetricsReporter(factory: metrics)
        reporter.add(StatisticsSource(dimensions: [(D.consumerGroup, "billing")]) { documents.current })

        reporter.update()
        #expect(metrics.counterTotal(label: Name.consumedMessages, dimensions: partition("orders", 0)) == 4)
        #expect(metrics.gauge(Name.consumerLag, partition("orders", 0) + [(D.consumerGroup, "billing")]) == 6)
        #expect(metrics.gauge(Name.consumerLag, partition("orders", 1)) == 3)
        #expect(metrics.gauge(Name.committedOffset, partition("orders", 1)) == 7)
        #expect(metrics.counterTotal(label: Name.rebalances) == 1)
        #expect(metrics.gauge(Name.groupStable, [(D.clientID, "svc")]) == 1)
        #expect(metrics.gauge(Name.assignedPartitions, []) == 2)

        reporter.update()  // the same document again: nothing counts twice
        #expect(metrics.counterTotal(label: Name.consumedMessages) == 4)

        documents.advance()
        reporter.update()
        #expect(metrics.counterTotal(label: Name.consumedMessages, dimensions: partition("orders", 0)) == 10)
        #expect(metrics.counterTotal(label: Name.consumedMessages, dimensions: partition("orders", 1)) == 3)
        #expect(metrics.counterTotal(label: Name.consumedBytes) == 130)
        #expect(metrics.gauge(Name.consumerLag, partition("orders", 0)) == 0)
        // Counters follow the cumulative values: one increment per difference.
        #expect(metrics.counters(label: Name.consumedMessages, dimensions: partition("orders", 0)).first?.values == [4, 6])

        documents.advance()  // partition 1 revoked
        reporter.update()
        #expect(metrics.counterTotal(label: Name.consumedMessages) == 15)
        #expect(metrics.counterTotal(label: Name.rebalances) == 2)
        #expect(metrics.gauge(Name.consumerLag, partition("orders", 1)) == nil)
        #expect(metrics.recorders(label: Name.consumerLag).count == 1)
    }

    @Test("a document that is not statistics is skipped")
    func badDocument() {
        let metrics = TestMetrics()
        let reporter = KafkaMetricsReporter(factory: metrics)
        reporter.add(StatisticsSource { "not json" })
        reporter.add(StatisticsSource { nil })
        reporter.update()
        #expect(metrics.counters.isEmpty && metrics.recorders.isEmpty)
    }

    @Test("run() updates on its interval until cancelled")
    func runLoop() async throws {
        let metrics = TestMetrics()
        let reporter = KafkaMetricsReporter(interval: .milliseconds(10), factory: metrics)
        reporter.add(StatisticsSource { consumerDocument(rxmsgs: [0: 1], rxbytes: [0: 1], lag: [0: 0], rebalances: 0) })
        let task = Task { await reporter.run() }
        let deadline = ContinuousClock.now + .seconds(5)
        while metrics.counterTotal(label: Name.consumedMessages) == 0 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        task.cancel()
        await task.value
        #expect(metrics.counterTotal(label: Name.consumedMessages) == 1)
    }
}

/// Hands out one document after another.
private final class DocumentQueue: Sendable {
    private let state: Mutex<(documents: [String], index: Int)>
    init(_ documents: [String]) { state = Mutex((documents, 0)) }
    var current: String? { state.withLock { $0.documents[$0.index] } }
    func advance() { state.withLock { $0.index += 1 } }
}

/// A consumer's statistics document in librdkafka 2.0.2's shape (STATISTICS.md), trimmed.
private func consumerDocument(rxmsgs: [Int: Int], rxbytes: [Int: Int], lag: [Int: Int], rebalances: Int) -> String {
    let partitions = rxmsgs.keys.sorted().map { id in
        """
        "\(id)": {"partition": \(id), "broker": 1, "leader": 1, "msgq_cnt": 0, "txmsgs": 0, "txbytes": 0,
          "rxmsgs": \(rxmsgs[id]!), "rxbytes": \(rxbytes[id]!), "hi_offset": 10, "committed_offset": \(10 - lag[id]!),
          "consumer_lag": \(lag[id]!), "consumer_lag_stored": \(lag[id]!)}
        """
    }
    let total = rxmsgs.values.reduce(0, +)
    return """
    {"name": "svc#consumer-2", "client_id": "svc", "type": "consumer", "ts": \(total), "time": 1700000000,
     "replyq": 0, "msg_cnt": 0, "msg_size": 0, "txmsgs": 0, "txmsg_bytes": 0, "rxmsgs": \(total), "rxmsg_bytes": \(rxbytes.values.reduce(0, +)),
     "brokers": {
       "localhost:9092/1": {"name": "localhost:9092/1", "nodeid": 1, "nodename": "localhost:9092", "state": "UP",
         "outbuf_cnt": 0, "waitresp_cnt": 1, "tx": 20, "txerrs": 0, "txretries": 0, "req_timeouts": 0, "rx": 19, "rxerrs": 0,
         "rtt": {"min": 100, "max": 900, "avg": 300, "sum": 3000, "cnt": 10, "p50": 250, "p99": 900},
         "req": {"Fetch": \(10 + total), "OffsetCommit": 1, "Heartbeat": 3}},
       "GroupCoordinator": {"name": "GroupCoordinator", "nodeid": -1, "nodename": "", "state": "UP"}
     },
     "topics": {"orders": {"topic": "orders", "partitions": {
        \(partitions.joined(separator: ",\n")),
        "-1": {"partition": -1, "rxmsgs": 0, "rxbytes": 0, "consumer_lag": -1}
     }}},
     "cgrp": {"state": "up", "stateage": 1000, "join_state": "steady", "rebalance_age": 900, "rebalance_cnt": \(rebalances),
       "rebalance_reason": "", "assignment_size": \(rxmsgs.count)}
    }
    """
}
