import Crdkafka

/// A consumer group's committed offsets through librdkafka's admin API (ListConsumerGroupOffsets,
/// AlterConsumerGroupOffsets), and offsets by timestamp, on a handle the caller already owns.
extension NativeHandle {
    /// The committed offsets of `group` in `partitions` (nil: every partition it committed);
    /// offsets below 0, "none", left out.
    func groupOffsets(_ group: String, partitions: [TopicPartition]?, timeout: Duration) throws -> [TopicPartition: Int64] {
        try withHandle { rk in
            let made: OpaquePointer? = if let partitions {
                try GroupHandle.withList(Dictionary(uniqueKeysWithValues: partitions.map { ($0, Int64(-1001)) })) { list in
                    rd_kafka_ListConsumerGroupOffsets_new(group, list)
                }
            } else {
                rd_kafka_ListConsumerGroupOffsets_new(group, nil)
            }
            guard let request = made else {
                throw KafkaError.invalidArgument("cannot list the offsets of group \(group)")
            }
            defer { rd_kafka_ListConsumerGroupOffsets_destroy(request) }
            var offsets: [TopicPartition: Int64] = [:]
            try adminRequest(rk, "ListConsumerGroupOffsets for group \(group)", timeout: timeout) { options, queue in
                var requests: [OpaquePointer?] = [request]
                rd_kafka_ListConsumerGroupOffsets(rk, &requests, 1, options, queue)
            } read: { event in
                guard let result = rd_kafka_event_ListConsumerGroupOffsets_result(event) else { return }
                var count = 0
                guard let groups = rd_kafka_ListConsumerGroupOffsets_result_groups(result, &count) else { return }
                offsets = try Self.groupPartitions(groups, count, group)
            }
            return offsets.filter { $0.value >= 0 }
        }
    }

    /// Sets the committed offsets of `group` to `offsets`; the group must have no member reading them.
    func alterGroupOffsets(_ group: String, _ offsets: [TopicPartition: Int64], timeout: Duration) throws {
        try withHandle { rk in
            try GroupHandle.withList(offsets) { list in
                guard let request = rd_kafka_AlterConsumerGroupOffsets_new(group, list) else {
                    throw KafkaError.invalidArgument("cannot alter the offsets of group \(group)")
                }
                defer { rd_kafka_AlterConsumerGroupOffsets_destroy(request) }
                try adminRequest(rk, "AlterConsumerGroupOffsets for group \(group)", timeout: timeout) { options, queue in
                    var requests: [OpaquePointer?] = [request]
                    rd_kafka_AlterConsumerGroupOffsets(rk, &requests, 1, options, queue)
                } read: { event in
                    guard let result = rd_kafka_event_AlterConsumerGroupOffsets_result(event) else { return }
                    var count = 0
                    guard let groups = rd_kafka_AlterConsumerGroupOffsets_result_groups(result, &count) else { return }
                    _ = try Self.groupPartitions(groups, count, group)
                }
            }
        }
    }

    /// The first offset of each partition whose timestamp is at or after the one given (in
    /// milliseconds since the epoch); -1 where no message is that recent.
    func offsetsForTimes(_ timestamps: [TopicPartition: Int64], timeout: Duration) throws -> [TopicPartition: Int64] {
        try withHandle { rk in
            try GroupHandle.withList(timestamps) { list in
                let code = rd_kafka_offsets_for_times(rk, list, timeout.milliseconds)
                guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code, detail: "cannot look up offsets by time") }
                for index in 0..<Int(list.pointee.cnt) where list.pointee.elems[index].err != RD_KAFKA_RESP_ERR_NO_ERROR {
                    let entry = list.pointee.elems[index]
                    throw KafkaError(entry.err, detail: "offset by time of \(entry.topic.map { String(cString: $0) } ?? "")/\(entry.partition)")
                }
                return GroupHandle.offsets(list).mapValues { $0 < 0 ? -1 : $0 }
            }
        }
    }

    /// The partitions of the one group result for `group`, throwing its error or the first partition's.
    private static func groupPartitions(_ groups: UnsafeMutablePointer<OpaquePointer?>, _ count: Int, _ group: String) throws -> [TopicPartition: Int64] {
        guard count > 0, let result = groups[0] else { return [:] }
        if let error = rd_kafka_group_result_error(result) {
            throw KafkaError(rd_kafka_error_code(error), detail: "group \(group): " + (rd_kafka_error_string(error).map { String(cString: $0) } ?? ""))
        }
        guard let list = rd_kafka_group_result_partitions(result) else { return [:] }
        let mutableList = UnsafeMutablePointer(mutating: list)
        for index in 0..<Int(list.pointee.cnt) where list.pointee.elems[index].err != RD_KAFKA_RESP_ERR_NO_ERROR {
            let entry = list.pointee.elems[index]
            throw KafkaError(entry.err, detail: "group \(group), \(entry.topic.map { String(cString: $0) } ?? "")/\(entry.partition)")
        }
        return GroupHandle.offsets(mutableList)
    }
}
