import Crdkafka
import KafkaProto

extension FetchBuffer {
    /// Converts one fetched record into a caller-owned `Message` at the end of the buffer:
    /// key and value copied, headers read when asked.
    func append(
        _ pointer: UnsafeMutablePointer<rd_kafka_message_t>, topic: String, readsHeaders: Bool, tipOffset: Int64
    ) {
        let raw = pointer.pointee
        append(
            key: raw.key.map { copyBytes($0, raw.key_len) },
            value: raw.payload.map { copyBytes($0, raw.len) },
            headers: readsHeaders ? readHeaders(pointer) : [],
            timestamp: recordTimestamp(pointer),
            topic: topic, partition: raw.partition, offset: raw.offset, tipOffset: tipOffset
        )
    }
}

extension BorrowedMessage {
    /// A view of one fetched record: key and value point into librdkafka's buffer, valid until
    /// the record is destroyed.
    init(viewing pointer: UnsafeMutablePointer<rd_kafka_message_t>) {
        let raw = pointer.pointee
        self.init(
            key: raw.key.map { UnsafeRawBufferPointer(start: $0, count: raw.key_len) },
            value: raw.payload.map { UnsafeRawBufferPointer(start: $0, count: raw.len) },
            partition: raw.partition, offset: raw.offset, timestamp: recordTimestamp(pointer)
        )
    }
}

/// The record's timestamp in milliseconds since 1970, nil when it has none.
private func recordTimestamp(_ pointer: UnsafeMutablePointer<rd_kafka_message_t>) -> Int64? {
    var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
    let timestamp = rd_kafka_message_timestamp(pointer, &timestampType)
    return timestampType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : timestamp
}

/// The record's headers in wire order; empty when it has none.
private func readHeaders(_ pointer: UnsafeMutablePointer<rd_kafka_message_t>) -> [Header] {
    if isHeaderless(pointer) { return [] }
    var headers: OpaquePointer?
    guard rd_kafka_message_headers(pointer, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR, let headers else { return [] }
    var result: [Header] = []
    var index = 0
    var name: UnsafePointer<CChar>?
    var value: UnsafeRawPointer?
    var size = 0
    while rd_kafka_header_get_all(headers, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
        result.append(Header(key: name.map { String(cString: $0) } ?? "", value: value.map { copyBytes($0, size) }))
        index += 1
    }
    return result
}

/// A caller-owned copy of `count` bytes at `start`: one allocation and one `memcpy`.
private func copyBytes(_ start: UnsafeRawPointer, _ count: Int) -> [UInt8] {
    Array(UnsafeRawBufferPointer(start: start, count: count))
}
