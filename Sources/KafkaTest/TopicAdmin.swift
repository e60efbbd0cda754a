import Crdkafka
import Kafka

/// Creates topics on a real cluster through librdkafka's admin API, for
/// tests that run against `KAFKA_BROKERS` (the embedded cluster serves no
/// admin API: use ``MockCluster/createTopic(_:partitions:replicationFactor:)`` there).
public enum TopicAdmin {
    /// Creates `topic` and waits up to `timeout` for the answer.
    /// - Throws: the broker's error (e.g. `topicAlreadyExists`), ``KafkaError/invalidConfiguration(_:)``.
    public static func create(
        _ topic: String, partitions: Int, replicationFactor: Int, brokers: [String], timeout: Duration = .seconds(30)
    ) throws {
        guard let conf = rd_kafka_conf_new() else { throw KafkaError.local(code: -1, message: "cannot allocate a configuration") }
        var errorText = [CChar](repeating: 0, count: 512)
        _ = rd_kafka_conf_set(conf, "bootstrap.servers", brokers.joined(separator: ","), &errorText, errorText.count)
        guard let rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errorText, errorText.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError.invalidConfiguration("cannot create an admin handle")
        }
        defer { rd_kafka_destroy(rk) }
        guard let queue = rd_kafka_queue_new(rk) else { throw KafkaError.local(code: -1, message: "cannot create a queue") }
        defer { rd_kafka_queue_destroy(queue) }
        guard let newTopic = rd_kafka_NewTopic_new(topic, Int32(partitions), Int32(replicationFactor), &errorText, errorText.count) else {
            throw KafkaError.invalidArgument("cannot describe topic \(topic)")
        }
        defer { rd_kafka_NewTopic_destroy(newTopic) }
        var topics: [OpaquePointer?] = [newTopic]
        rd_kafka_CreateTopics(rk, &topics, 1, nil, queue)
        let millis = Int32(MockCluster.milliseconds(timeout))
        guard let event = rd_kafka_queue_poll(queue, millis) else {
            throw KafkaError.timeout("CreateTopics for \(topic) got no answer within \(timeout)")
        }
        defer { rd_kafka_event_destroy(event) }
        let code = rd_kafka_event_error(event)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(brokerOrLocal: code) }
        guard let result = rd_kafka_event_CreateTopics_result(event) else { return }
        var count = 0
        guard let results = rd_kafka_CreateTopics_result_topics(result, &count) else { return }
        for index in 0..<count {
            let topicCode = rd_kafka_topic_result_error(results[index])
            if topicCode != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(brokerOrLocal: topicCode) }
        }
    }
}

extension KafkaError {
    init(brokerOrLocal code: rd_kafka_resp_err_t) {
        let text = String(cString: rd_kafka_err2str(code))
        self = code.rawValue >= -1 ? .broker(ErrorCode(rawValue: Int16(clamping: code.rawValue)), message: text) : .local(code: code.rawValue, message: text)
    }
}
