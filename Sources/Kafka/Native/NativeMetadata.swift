import Crdkafka

extension ClusterMetadata {
    /// Copies librdkafka's metadata into Swift values.
    init(_ metadata: UnsafePointer<rd_kafka_metadata_t>) {
        let m = metadata.pointee
        let brokers = (0..<Int(m.broker_cnt)).map { index -> BrokerMetadata in
            let broker = m.brokers[index]
            return BrokerMetadata(id: broker.id, host: broker.host.map { String(cString: $0) } ?? "", port: broker.port)
        }
        let topics = (0..<Int(m.topic_cnt)).map { index -> TopicMetadata in
            let topic = m.topics[index]
            let partitions = (0..<Int(topic.partition_cnt)).map { p -> PartitionMetadata in
                let partition = topic.partitions[p]
                return PartitionMetadata(
                    id: partition.id,
                    leader: partition.leader,
                    replicas: (0..<Int(partition.replica_cnt)).map { partition.replicas[$0] },
                    inSyncReplicas: (0..<Int(partition.isr_cnt)).map { partition.isrs[$0] },
                    error: ErrorCode(librdkafka: partition.err)
                )
            }
            return TopicMetadata(
                name: topic.topic.map { String(cString: $0) } ?? "",
                error: ErrorCode(librdkafka: topic.err),
                partitions: partitions
            )
        }
        self.init(brokers: brokers, topics: topics, originatingBrokerID: m.orig_broker_id)
    }
}

extension ErrorCode {
    /// The broker code of a librdkafka error, `nil` for no error; local codes map to `.unknown`.
    init?(librdkafka code: rd_kafka_resp_err_t) {
        guard code != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        self.init(rawValue: code.rawValue >= -1 ? Int16(clamping: code.rawValue) : -1)
    }
}

extension NativeHandle {
    /// Fetches metadata of every topic (never creating one) or, with `topic`,
    /// of that topic alone (which lets a broker with auto-creation create it).
    /// A ``NativeHandle/detached(_:)`` call: closing the handle ends the wait at once.
    func fetchMetadata(topic: String? = nil, timeout: Duration) throws -> ClusterMetadata {
        let millis = timeout.milliseconds
        return try detached { rk in
            var metadata: UnsafePointer<rd_kafka_metadata_t>?
            var topicHandle: OpaquePointer?
            if let topic { topicHandle = rd_kafka_topic_new(rk, topic, nil) }
            defer { if let topicHandle { rd_kafka_topic_destroy(topicHandle) } }
            let code = rd_kafka_metadata(rk, topic == nil ? 1 : 0, topicHandle, &metadata, millis)
            guard code == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { throw KafkaError(code) }
            defer { rd_kafka_metadata_destroy(metadata) }
            return ClusterMetadata(metadata)
        }
    }
}
