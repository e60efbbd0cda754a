import Crdkafka

/// Batched topic administration (CreateTopics, DeleteTopics, CreatePartitions, DeleteRecords) and
/// the cluster's id and controller, on a handle the caller already owns. Each batch call returns one
/// outcome per item: an item's error never hides another item's result.
extension NativeHandle {
    /// Creates `topics`; the error of each that the controller refused, nil for each it created.
    func createTopics(_ topics: [NewTopic], timeout: Duration) throws -> [String: KafkaError?] {
        try withHandle { rk in
            var made: [OpaquePointer?] = []
            defer { for topic in made { rd_kafka_NewTopic_destroy(topic) } }
            for topic in topics {
                let assigned = topic.replicaAssignment
                // With an explicit assignment librdkafka wants -1 for the counts it then derives.
                let partitions = assigned.map { Int32(clamping: $0.count) } ?? topic.partitions
                let replication = assigned == nil ? topic.replicationFactor : -1
                var errorText = [CChar](repeating: 0, count: 512)
                guard let newTopic = rd_kafka_NewTopic_new(topic.name, partitions, replication, &errorText, errorText.count) else {
                    throw KafkaError.invalidArgument("cannot create topic \(topic.name): \(Self.text(errorText))")
                }
                made.append(newTopic)
                for key in topic.configs.keys.sorted() {
                    let code = rd_kafka_NewTopic_set_config(newTopic, key, topic.configs[key] ?? "")
                    guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code, detail: "topic \(topic.name) setting \(key)") }
                }
                for (partition, brokers) in (assigned ?? []).enumerated() {
                    var ids = brokers
                    let code = rd_kafka_NewTopic_set_replica_assignment(newTopic, Int32(clamping: partition), &ids, ids.count, &errorText, errorText.count)
                    guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
                        throw KafkaError.invalidArgument("topic \(topic.name) partition \(partition) replicas \(brokers): \(Self.text(errorText))")
                    }
                }
            }
            var outcomes: [String: KafkaError?] = [:]
            try adminRequest(rk, "CreateTopics", timeout: timeout) { options, queue in
                rd_kafka_CreateTopics(rk, &made, made.count, options, queue)
            } read: { event in
                guard let result = rd_kafka_event_CreateTopics_result(event) else { return }
                var count = 0
                outcomes = Self.topicOutcomes(rd_kafka_CreateTopics_result_topics(result, &count), count)
            }
            return outcomes
        }
    }

    /// Deletes `names`; the error of each the controller refused, nil for each it deleted.
    func deleteTopics(_ names: [String], timeout: Duration) throws -> [String: KafkaError?] {
        try withHandle { rk in
            var made: [OpaquePointer?] = names.map { rd_kafka_DeleteTopic_new($0) }
            defer { for topic in made { rd_kafka_DeleteTopic_destroy(topic) } }
            guard !made.contains(where: { $0 == nil }) else { throw KafkaError.invalidArgument("cannot delete topics \(names)") }
            var outcomes: [String: KafkaError?] = [:]
            try adminRequest(rk, "DeleteTopics", timeout: timeout) { options, queue in
                rd_kafka_DeleteTopics(rk, &made, made.count, options, queue)
            } read: { event in
                guard let result = rd_kafka_event_DeleteTopics_result(event) else { return }
                var count = 0
                outcomes = Self.topicOutcomes(rd_kafka_DeleteTopics_result_topics(result, &count), count)
            }
            return outcomes
        }
    }

    /// Raises each topic's partition count to the total given.
    func createPartitions(_ totals: [String: Int32], timeout: Duration) throws -> [String: KafkaError?] {
        try withHandle { rk in
            var made: [OpaquePointer?] = []
            defer { for request in made { rd_kafka_NewPartitions_destroy(request) } }
            for (topic, total) in totals.sorted(by: { $0.key < $1.key }) {
                var errorText = [CChar](repeating: 0, count: 512)
                guard let request = rd_kafka_NewPartitions_new(topic, Int(total), &errorText, errorText.count) else {
                    throw KafkaError.invalidArgument("cannot add partitions to \(topic): \(Self.text(errorText))")
                }
                made.append(request)
            }
            var outcomes: [String: KafkaError?] = [:]
            try adminRequest(rk, "CreatePartitions", timeout: timeout) { options, queue in
                rd_kafka_CreatePartitions(rk, &made, made.count, options, queue)
            } read: { event in
                guard let result = rd_kafka_event_CreatePartitions_result(event) else { return }
                var count = 0
                outcomes = Self.topicOutcomes(rd_kafka_CreatePartitions_result_topics(result, &count), count)
            }
            return outcomes
        }
    }

    /// Deletes every record before the offset given in each partition; each partition's new low
    /// watermark, or its error.
    func deleteRecords(before offsets: [TopicPartition: Int64], timeout: Duration) throws -> [TopicPartition: Result<Int64, KafkaError>] {
        try withHandle { rk in
            try GroupHandle.withList(offsets) { list in
                guard let request = rd_kafka_DeleteRecords_new(list) else { throw KafkaError.invalidArgument("cannot delete records before \(offsets)") }
                defer { rd_kafka_DeleteRecords_destroy(request) }
                var outcomes: [TopicPartition: Result<Int64, KafkaError>] = [:]
                try adminRequest(rk, "DeleteRecords", timeout: timeout) { options, queue in
                    var requests: [OpaquePointer?] = [request]
                    rd_kafka_DeleteRecords(rk, &requests, 1, options, queue)
                } read: { event in
                    guard let result = rd_kafka_event_DeleteRecords_result(event),
                          let list = rd_kafka_DeleteRecords_result_offsets(result) else { return }
                    for index in 0..<Int(list.pointee.cnt) {
                        let entry = list.pointee.elems[index]
                        let partition = TopicPartition(entry.topic.map { String(cString: $0) } ?? "", entry.partition)
                        outcomes[partition] = entry.err == RD_KAFKA_RESP_ERR_NO_ERROR
                            ? .success(entry.offset) : .failure(KafkaError(entry.err, detail: "records of \(partition)"))
                    }
                }
                return outcomes
            }
        }
    }

    /// The cluster id and controller id from metadata, waiting up to `timeout` for it.
    func clusterIdentity(timeout: Duration) throws -> (clusterID: String?, controllerID: Int32?) {
        try withHandle { rk in
            let millis = Int32(clamping: timeout.milliseconds)
            var clusterID: String?
            if let raw = rd_kafka_clusterid(rk, millis) {
                clusterID = String(cString: raw)
                rd_kafka_mem_free(rk, raw)
            }
            let controller = rd_kafka_controllerid(rk, millis)
            return (clusterID, controller >= 0 ? controller : nil)
        }
    }

    private static func topicOutcomes(_ results: UnsafeMutablePointer<OpaquePointer?>?, _ count: Int) -> [String: KafkaError?] {
        guard let results else { return [:] }
        var outcomes: [String: KafkaError?] = [:]
        for index in 0..<count {
            let name = rd_kafka_topic_result_name(results[index]).map { String(cString: $0) } ?? ""
            let code = rd_kafka_topic_result_error(results[index])
            let error: KafkaError? = code == RD_KAFKA_RESP_ERR_NO_ERROR
                ? nil : KafkaError(code, detail: rd_kafka_topic_result_error_string(results[index]).map { String(cString: $0) })
            outcomes.updateValue(error, forKey: name)
        }
        return outcomes
    }

    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
