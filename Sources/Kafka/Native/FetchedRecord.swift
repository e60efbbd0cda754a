import Crdkafka
import KafkaProto

extension FetchBuffer {
    /// Converts one fetched record into a caller-owned ``Message`` at the end of the buffer:
    /// key and value copied, headers read when asked.
    func append(
        _ pointer: UnsafeMutablePointer<rd_kafka_message_t>, topic: String, readsHeaders: Bool, tipOffset: Int64
    ) {
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let timestamp = rd_kafka_message_timestamp(pointer, &timestampType)
        let raw = pointer.pointee
        append(
            key: raw.key.map { copyBytes($0, raw.key_len) },
            value: raw.payload.map { copyBytes($0, raw.len) },
            headers: readsHeaders ? readHeaders(pointer) : [],
            timestamp: timestampType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : timestamp,
            topic: topic, partition: raw.partition, offset: raw.offset, tipOffset: tipOffset
        )
    }
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
