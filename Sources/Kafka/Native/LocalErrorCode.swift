import Crdkafka

/// librdkafka's local error codes (below -1) that code outside `Native/` tests for,
/// so that only this folder needs the C names.
enum LocalErrorCode {
    static var transport: Int32 { RD_KAFKA_RESP_ERR__TRANSPORT.rawValue }
    static var timedOut: Int32 { RD_KAFKA_RESP_ERR__TIMED_OUT.rawValue }
    static var allBrokersDown: Int32 { RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN.rawValue }
    static var purgedQueue: Int32 { RD_KAFKA_RESP_ERR__PURGE_QUEUE.rawValue }
    static var purgedInFlight: Int32 { RD_KAFKA_RESP_ERR__PURGE_INFLIGHT.rawValue }
    static var messageTimedOut: Int32 { RD_KAFKA_RESP_ERR__MSG_TIMED_OUT.rawValue }
    static var unknownPartition: Int32 { RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION.rawValue }
    static var unsupportedFeature: Int32 { RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE.rawValue }
}

extension KafkaError {
    /// Maps a librdkafka error code, as a raw number, to the library's error (see ``init(_:detail:)``).
    init(librdkafkaCode code: Int32, detail: String? = nil) {
        self.init(rd_kafka_resp_err_t(code), detail: detail)
    }
}
