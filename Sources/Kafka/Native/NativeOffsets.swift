import Crdkafka
#if canImport(Glibc)
import Glibc
#endif

/// Watermark queries and group offset requests, each one blocking librdkafka call.
extension NativeHandle {
    /// Asks the leader of `topic`/`partition` for its low and high watermarks.
    /// - Throws: the query's error mapped to `KafkaError`; `KafkaError.closed`.
    func queryWatermarks(_ topic: String, _ partition: Int32, timeout: Duration) throws -> (low: Int64, high: Int64) {
        let millis = timeout.milliseconds
        let pair = try detached { rk -> Pair in
            var low: Int64 = -1
            var high: Int64 = -1
            let code = rd_kafka_query_watermark_offsets(rk, topic, partition, &low, &high, millis)
            guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code) }
            return Pair(low: low, high: high)
        }
        return (pair.low, pair.high)
    }

    /// Commits `offset` with `metadata` for `topic`/`partition` in the handle's `group.id`,
    /// and returns when the coordinator acknowledged.
    func commitOffset(_ topic: String, _ partition: Int32, offset: Int64, metadata: String) throws {
        try Self.partitionRequest(self, topic, partition) { rk, list in
            guard let entry = list.pointee.elems else { return RD_KAFKA_RESP_ERR__INVALID_ARG }
            entry.pointee.offset = offset
            // librdkafka frees the entry's metadata with free(): it must come from malloc.
            let bytes = Array(metadata.utf8)
            if let copy = malloc(Swift.max(1, bytes.count)) {
                bytes.withUnsafeBytes { source in
                    if let base = source.baseAddress { copy.copyMemory(from: base, byteCount: bytes.count) }
                }
                entry.pointee.metadata = copy
                entry.pointee.metadata_size = bytes.count
            }
            return rd_kafka_commit(rk, list, 0)
        }
    }

    /// The committed offset (-1 when none) and metadata of `topic`/`partition` in the handle's `group.id`.
    func committedOffset(_ topic: String, _ partition: Int32, timeout: Duration) throws -> (offset: Int64, metadata: String) {
        let millis = timeout.milliseconds
        let committed = try Self.partitionRequest(self, topic, partition) { rk, list in
            rd_kafka_committed(rk, list, millis)
        }
        return (committed.offset < 0 ? -1 : committed.offset, committed.metadata)
    }

    /// Runs one request on a one-entry partition list (as a ``detached(_:)`` call) and turns its
    /// result and the entry's error into a throw; returns the entry's offset and metadata.
    private static func partitionRequest(
        _ handle: NativeHandle, _ topic: String, _ partition: Int32,
        _ body: @escaping @Sendable (OpaquePointer, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> rd_kafka_resp_err_t
    ) throws -> Entry {
        try handle.detached { rk in
            guard let list = rd_kafka_topic_partition_list_new(1) else {
                throw KafkaError.local(code: -1, message: "cannot allocate a partition list")
            }
            defer { rd_kafka_topic_partition_list_destroy(list) }
            rd_kafka_topic_partition_list_add(list, topic, partition)
            let code = body(rk, list)
            guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code) }
            guard let entry = list.pointee.elems else { return Entry(offset: -1, metadata: "") }
            if entry.pointee.err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(entry.pointee.err) }
            let metadata = entry.pointee.metadata.map {
                String(decoding: UnsafeRawBufferPointer(start: $0, count: entry.pointee.metadata_size), as: UTF8.self)
            } ?? ""
            return Entry(offset: entry.pointee.offset, metadata: metadata)
        }
    }
}

private struct Pair: Sendable {
    let low: Int64
    let high: Int64
}

private struct Entry: Sendable {
    let offset: Int64
    let metadata: String
}
