/// The names ``KafkaMetricsReporter`` records under, and their dimensions. OpenTelemetry's
/// messaging semantic conventions name the messages sent and consumed and every dimension they
/// know; the rest are named `kafka.*`. See the table in the module's documentation.
public enum KafkaMetricName {
    /// Counter: messages transmitted to a partition (statistics `topics.partitions.txmsgs`;
    /// retries count again). OpenTelemetry's `messaging.client.sent.messages`.
    public static let sentMessages = "messaging.client.sent.messages"
    /// Counter: bytes of the messages transmitted to a partition (`txbytes`).
    public static let sentBytes = "kafka.client.sent.bytes"
    /// Counter: messages consumed from a partition (`rxmsgs`). OpenTelemetry's `messaging.client.consumed.messages`.
    public static let consumedMessages = "messaging.client.consumed.messages"
    /// Counter: bytes of the messages consumed from a partition (`rxbytes`).
    public static let consumedBytes = "kafka.client.consumed.bytes"
    /// Gauge: messages a consumer is behind the partition's high watermark (`consumer_lag`,
    /// `GroupConsumer.lag()` for a watched group consumer, or the cluster's answer for a
    /// group watched with ``KafkaMetricsReporter/watchLag(ofGroup:topics:admin:dimensions:)``).
    public static let consumerLag = "kafka.consumer.lag"
    /// Gauge: the group's committed offset of a partition (`committed_offset`, or the cluster's
    /// answer for a group watched with ``KafkaMetricsReporter/watchLag(ofGroup:topics:admin:dimensions:)``).
    public static let committedOffset = "kafka.consumer.committed.offset"
    /// Gauge: a partition's high watermark as the client last saw it (`hi_offset`).
    public static let highWatermark = "kafka.partition.high_watermark"
    /// Gauge: messages waiting in the producer's queue (`msg_cnt`).
    public static let queuedMessages = "kafka.producer.queue.messages"
    /// Gauge: bytes of the messages waiting in the producer's queue (`msg_size`).
    public static let queuedBytes = "kafka.producer.queue.bytes"
    /// Gauge: requests waiting to be sent to a broker (`outbuf_cnt`).
    public static let outboundRequests = "kafka.broker.outbound.requests"
    /// Gauge: requests sent to a broker and waiting for the response (`waitresp_cnt`).
    public static let inflightRequests = "kafka.broker.inflight.requests"
    /// Gauge, seconds: average round-trip time to a broker over the statistics window (`rtt.avg`).
    public static let rttAverage = "kafka.broker.rtt.avg"
    /// Gauge, seconds: 99th percentile round-trip time over the window (`rtt.p99`).
    public static let rttP99 = "kafka.broker.rtt.p99"
    /// Counter: requests sent to a broker, by request type (`req`).
    public static let requests = "kafka.broker.requests"
    /// Counter: transmission errors towards a broker (`txerrs`), failed produce requests among them.
    public static let transmitErrors = "kafka.broker.transmit.errors"
    /// Counter: receive errors from a broker (`rxerrs`).
    public static let receiveErrors = "kafka.broker.receive.errors"
    /// Counter: requests that timed out (`req_timeouts`).
    public static let requestTimeouts = "kafka.broker.request.timeouts"
    /// Counter: requests retried (`txretries`).
    public static let requestRetries = "kafka.broker.request.retries"
    /// Counter: rebalances of the group consumer (`cgrp.rebalance_cnt`).
    public static let rebalances = "kafka.consumer.rebalances"
    /// Counter: partitions assigned, revoked or lost, counted by the rebalance hooks that
    /// ``KafkaMetricsReporter/instrument(_:clientID:dimensions:)`` installs.
    public static let rebalancedPartitions = "kafka.consumer.rebalance.partitions"
    /// Gauge: partitions assigned to the group consumer (`cgrp.assignment_size`, or the
    /// watched group consumer's assignment).
    public static let assignedPartitions = "kafka.consumer.assigned.partitions"
    /// Gauge: 1 while the group consumer is in the group and steady (`cgrp.state` "up" and
    /// `join_state` "steady"), 0 otherwise.
    public static let groupStable = "kafka.consumer.group.stable"
    /// Gauge: 1 once an idempotent producer has its producer id (`eos.idemp_state` "Assigned"), 0 otherwise.
    public static let idempotenceReady = "kafka.producer.idempotence.ready"

    /// Counter: deliveries of a `Sender` that failed (`Sender.failedDeliveries`),
    /// reported by ``KafkaMetricsReporter/watch(_:clientID:dimensions:)-(Sender,_,_)``.
    public static let failedDeliveries = "kafka.producer.failed.deliveries"
    /// Gauge: records a `Sender` handed over that are not yet acknowledged or failed (`Sender.inFlight`).
    public static let inFlightRecords = "kafka.producer.inflight.records"
    /// Gauge: messages a watched `ProcessingLoop` is handling now.
    public static let processingInFlight = "kafka.processing.inflight"
    /// Gauge, per partition: messages a watched processing loop buffered, not yet handed to a handler.
    public static let processingWaiting = "kafka.processing.waiting"
    /// Gauge, per partition: messages a watched processing loop handled that wait for an earlier
    /// one to finish before they can be committed (the wait for a contiguous commit).
    public static let processingHeldBack = "kafka.processing.held_back"

    /// The dimension names.
    public enum Dimension {
        /// Always "kafka". OpenTelemetry's `messaging.system`.
        public static let system = "messaging.system"
        /// The client id (statistics `client_id`). OpenTelemetry's `messaging.client.id`.
        public static let clientID = "messaging.client.id"
        /// The topic. OpenTelemetry's `messaging.destination.name`.
        public static let destination = "messaging.destination.name"
        /// The partition number. OpenTelemetry's `messaging.destination.partition.id`.
        public static let partition = "messaging.destination.partition.id"
        /// The consumer group. OpenTelemetry's `messaging.consumer.group.name`.
        public static let consumerGroup = "messaging.consumer.group.name"
        /// The broker's host. OpenTelemetry's `server.address`.
        public static let serverAddress = "server.address"
        /// The broker's port. OpenTelemetry's `server.port`.
        public static let serverPort = "server.port"
        /// The broker's node id.
        public static let brokerID = "kafka.broker.id"
        /// The request type as librdkafka names it ("Produce", "Fetch", "Metadata"...).
        public static let requestType = "kafka.request.type"
        /// "assigned", "revoked" or "lost".
        public static let rebalanceChange = "kafka.rebalance.change"
    }
}
