import Foundation

/// The part of one librdkafka statistics document (its STATISTICS.md, as of 2.0.2) that
/// ``KafkaMetricsReporter`` turns into metrics. Decoded off the hot path, on the reporter's
/// own schedule; fields librdkafka leaves out (e.g. `cgrp` of a producer) are `nil`.
struct KafkaStatistics: Decodable, Sendable {
    /// One broker connection (`brokers{}`).
    struct Broker: Decodable, Sendable {
        /// The node id; -1 for a bootstrap entry.
        var nodeid: Int32
        /// "host:port" of the broker.
        var nodename: String?
        /// Requests waiting to be sent.
        var outbuf_cnt: Int64?
        /// Requests sent, waiting for their response.
        var waitresp_cnt: Int64?
        /// Transmission errors.
        var txerrs: Int64?
        /// Request retries.
        var txretries: Int64?
        /// Requests timed out.
        var req_timeouts: Int64?
        /// Receive errors.
        var rxerrs: Int64?
        /// Round-trip time window, in microseconds.
        var rtt: Window?
        /// Requests sent, by request name ("Produce", "Fetch", ...).
        var req: [String: Int64]?
    }

    /// A rolling window of librdkafka's (`rtt`, `int_latency`...), in microseconds.
    struct Window: Decodable, Sendable {
        var avg: Int64?
        var p99: Int64?
        /// Samples in the window; the other values are 0 when it is 0.
        var cnt: Int64?
    }

    /// One topic (`topics{}`).
    struct Topic: Decodable, Sendable {
        var topic: String
        /// Partitions by id; "-1" is librdkafka's internal unassigned partition.
        var partitions: [String: Partition]?
    }

    /// One partition of a topic (`topics{}.partitions{}`).
    struct Partition: Decodable, Sendable {
        var partition: Int32
        /// Messages transmitted (produced), retries included.
        var txmsgs: Int64?
        var txbytes: Int64?
        /// Messages consumed, not counting those skipped for their offset.
        var rxmsgs: Int64?
        var rxbytes: Int64?
        /// The partition's high watermark as last seen; -1001 when unknown.
        var hi_offset: Int64?
        /// The group's committed offset; -1001 when none.
        var committed_offset: Int64?
        /// High watermark minus committed offset; -1 when unknown.
        var consumer_lag: Int64?
        /// Messages waiting in the producer queue of this partition.
        var msgq_cnt: Int64?
    }

    /// The consumer group (`cgrp`), for a group consumer's handle.
    struct Group: Decodable, Sendable {
        var state: String?
        var join_state: String?
        var rebalance_cnt: Int64?
        var assignment_size: Int64?
    }

    /// Idempotence and transactions (`eos`), for an idempotent producer.
    struct ExactlyOnce: Decodable, Sendable {
        var idemp_state: String?
        var txn_state: String?
    }

    /// librdkafka's name of the handle ("client.id#producer-1").
    var name: String?
    var client_id: String?
    /// "producer" or "consumer".
    var type: String?
    /// librdkafka's monotonic clock at emission, in microseconds.
    var ts: Int64?
    /// Messages in the producer queue (`msg_cnt`), and their bytes (`msg_size`).
    var msg_cnt: Int64?
    var msg_size: Int64?
    var txmsgs: Int64?
    var txmsg_bytes: Int64?
    var rxmsgs: Int64?
    var rxmsg_bytes: Int64?
    var brokers: [String: Broker]?
    var topics: [String: Topic]?
    var cgrp: Group?
    var eos: ExactlyOnce?

    /// Decodes a statistics JSON document.
    init(json: String) throws {
        self = try JSONDecoder().decode(KafkaStatistics.self, from: Data(json.utf8))
    }
}
