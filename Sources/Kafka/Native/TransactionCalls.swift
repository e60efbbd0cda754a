import Crdkafka
import KafkaProto

/// librdkafka's transactional calls on a producer's `rd_kafka_t`, each turning librdkafka's
/// `rd_kafka_error_t` into a `KafkaError` classified as librdkafka classifies it.
enum TransactionCalls {
    /// `rd_kafka_init_transactions`, waiting up to `timeout`.
    static func initialize(_ rk: OpaquePointer, timeout: Duration) throws(KafkaError) {
        try check(rd_kafka_init_transactions(rk, timeout.milliseconds), rk, "initTransactions")
    }

    /// `rd_kafka_begin_transaction` (local: no request).
    static func begin(_ rk: OpaquePointer) throws(KafkaError) {
        try check(rd_kafka_begin_transaction(rk), rk, "beginTransaction")
    }

    /// `rd_kafka_send_offsets_to_transaction` of `offsets` for `group`, waiting up to `timeout`.
    static func sendOffsets(_ rk: OpaquePointer, _ offsets: [TopicPartition: Int64], _ group: ConsumerGroupMetadata, timeout: Duration) throws {
        guard let list = rd_kafka_topic_partition_list_new(Int32(clamping: offsets.count)) else {
            throw KafkaError.local(code: -1, message: "cannot allocate a partition list")
        }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for (partition, offset) in offsets.sorted(by: { $0.key < $1.key }) {
            rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition).pointee.offset = offset
        }
        let metadata = try nativeMetadata(group)
        defer { rd_kafka_consumer_group_metadata_destroy(metadata) }
        try check(rd_kafka_send_offsets_to_transaction(rk, list, metadata, timeout.milliseconds), rk, "sendOffsets")
    }

    /// `rd_kafka_commit_transaction` with the transaction's remaining time (librdkafka's advice).
    static func commit(_ rk: OpaquePointer) throws(KafkaError) {
        try check(rd_kafka_commit_transaction(rk, -1), rk, "commitTransaction")
    }

    /// `rd_kafka_abort_transaction` with the transaction's remaining time.
    static func abort(_ rk: OpaquePointer) throws(KafkaError) {
        try check(rd_kafka_abort_transaction(rk, -1), rk, "abortTransaction")
    }

    /// The fatal error raised on the handle, if any: the producer is unusable.
    static func fatalError(_ rk: OpaquePointer, operation: String) -> KafkaError? {
        var text = [CChar](repeating: 0, count: 512)
        let code = rd_kafka_fatal_error(rk, &text, text.count)
        guard code != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        let reason = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return .transaction(TransactionFailure(kind: .fatal, operation: operation, cause: KafkaError(code, detail: reason)))
    }

    /// The serialized metadata of the group member `rk` (a group consumer), or nil when it has none.
    static func groupMetadata(_ rk: OpaquePointer, group: String) -> ConsumerGroupMetadata? {
        guard let metadata = rd_kafka_consumer_group_metadata(rk) else { return nil }
        defer { rd_kafka_consumer_group_metadata_destroy(metadata) }
        var buffer: UnsafeMutableRawPointer?
        var size = 0
        if let error = rd_kafka_consumer_group_metadata_write(metadata, &buffer, &size) {
            rd_kafka_error_destroy(error)
            return nil
        }
        guard let buffer else { return nil }
        defer { rd_kafka_mem_free(nil, buffer) }
        let bytes = Array(UnsafeRawBufferPointer(start: buffer, count: size))
        return ConsumerGroupMetadata(group: group, serialized: bytes)
    }

    /// A librdkafka metadata object for `group`; the caller destroys it.
    private static func nativeMetadata(_ group: ConsumerGroupMetadata) throws -> OpaquePointer {
        if group.serialized.isEmpty {
            guard let made = rd_kafka_consumer_group_metadata_new(group.group) else {
                throw KafkaError.invalidArgument("cannot make consumer group metadata for group \(group.group)")
            }
            return made
        }
        var made: OpaquePointer?
        let error = group.serialized.withUnsafeBytes { bytes in
            rd_kafka_consumer_group_metadata_read(&made, bytes.baseAddress, bytes.count)
        }
        if let error {
            defer { rd_kafka_error_destroy(error) }
            throw KafkaError(rd_kafka_error_code(error), detail: "cannot read the metadata of group \(group.group)")
        }
        guard let made else { throw KafkaError.invalidArgument("cannot read the metadata of group \(group.group)") }
        return made
    }

    /// Throws the classified error `error` carries (and destroys it); nothing for nil.
    private static func check(_ error: OpaquePointer?, _ rk: OpaquePointer, _ operation: String) throws(KafkaError) {
        guard let error else { return }
        defer { rd_kafka_error_destroy(error) }
        let code = rd_kafka_error_code(error)
        let text = rd_kafka_error_string(error).map { String(cString: $0) }
        let cause = KafkaError(code, detail: text)
        if rd_kafka_error_is_fatal(error) != 0 || code == RD_KAFKA_RESP_ERR__FATAL {
            // The error of a later call says only "fatal"; the handle keeps the original reason.
            throw fatalError(rk, operation: operation) ?? .transaction(TransactionFailure(kind: .fatal, operation: operation, cause: cause))
        }
        if rd_kafka_error_txn_requires_abort(error) != 0 {
            throw .transaction(TransactionFailure(kind: .abortable, operation: operation, cause: cause))
        }
        if rd_kafka_error_is_retriable(error) != 0 {
            throw .transaction(TransactionFailure(kind: .retriable, operation: operation, cause: cause))
        }
        throw cause
    }
}
