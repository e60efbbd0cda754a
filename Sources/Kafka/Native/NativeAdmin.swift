import Crdkafka

/// Topic administration through librdkafka's admin API (CreateTopics, DeleteTopics),
/// on a handle the caller already owns.
extension NativeHandle {
    /// Creates `topic`; returns when the controller answered or `timeout` passed.
    func createTopic(_ topic: String, partitions: Int32, replicationFactor: Int32, config: [String: String], timeout: Duration) throws {
        try withHandle { rk in
            var errorText = [CChar](repeating: 0, count: 512)
            guard let newTopic = rd_kafka_NewTopic_new(topic, partitions, replicationFactor, &errorText, errorText.count) else {
                throw KafkaError.invalidArgument("cannot create topic \(topic): \(String(decoding: errorText.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
            }
            defer { rd_kafka_NewTopic_destroy(newTopic) }
            for key in config.keys.sorted() {
                let code = rd_kafka_NewTopic_set_config(newTopic, key, config[key] ?? "")
                guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code, detail: "topic setting \(key)") }
            }
            try adminRequest(rk, "CreateTopics for \(topic)", timeout: timeout) { options, queue in
                var topics: [OpaquePointer?] = [newTopic]
                rd_kafka_CreateTopics(rk, &topics, 1, options, queue)
            } read: { event in
                guard let result = rd_kafka_event_CreateTopics_result(event) else { return }
                var count = 0
                guard let results = rd_kafka_CreateTopics_result_topics(result, &count) else { return }
                try Self.throwFirstError(results, count)
            }
        }
    }

    /// Deletes `topic`; returns when the controller answered or `timeout` passed.
    func deleteTopic(_ topic: String, timeout: Duration) throws {
        try withHandle { rk in
            guard let deleted = rd_kafka_DeleteTopic_new(topic) else { throw KafkaError.invalidArgument("cannot delete topic \(topic)") }
            defer { rd_kafka_DeleteTopic_destroy(deleted) }
            try adminRequest(rk, "DeleteTopics for \(topic)", timeout: timeout) { options, queue in
                var topics: [OpaquePointer?] = [deleted]
                rd_kafka_DeleteTopics(rk, &topics, 1, options, queue)
            } read: { event in
                guard let result = rd_kafka_event_DeleteTopics_result(event) else { return }
                var count = 0
                guard let results = rd_kafka_DeleteTopics_result_topics(result, &count) else { return }
                try Self.throwFirstError(results, count)
            }
        }
    }

    /// Sends one admin request with its own result queue and waits for the result event.
    func adminRequest(
        _ rk: OpaquePointer, _ what: String, timeout: Duration,
        send: (OpaquePointer?, OpaquePointer) -> Void, read: (OpaquePointer) throws -> Void
    ) throws {
        guard let queue = rd_kafka_queue_new(rk) else { throw KafkaError.local(code: -1, message: "cannot create a queue for \(what)") }
        defer { rd_kafka_queue_destroy(queue) }
        let options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_ANY)
        defer { if let options { rd_kafka_AdminOptions_destroy(options) } }
        // librdkafka takes at most an hour; a longer wait is an hour, never its default (the socket timeout).
        let millis = min(3_600_000, max(0, timeout.milliseconds))
        if let options {
            var errorText = [CChar](repeating: 0, count: 256)
            for set in [rd_kafka_AdminOptions_set_request_timeout, rd_kafka_AdminOptions_set_operation_timeout] {
                guard set(options, millis, &errorText, errorText.count) == RD_KAFKA_RESP_ERR_NO_ERROR else {
                    let text = String(decoding: errorText.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                    throw KafkaError.invalidArgument("\(what): librdkafka refused the timeout \(timeout): \(text)")
                }
            }
        }
        let wakeUp = onCloseRemovable { rd_kafka_queue_yield(queue) }
        defer { removeCloseHook(wakeUp) }
        send(options, queue)
        // One slack second past librdkafka's own request timeout, which answers with an event.
        guard let event = rd_kafka_queue_poll(queue, Int32(clamping: Int64(millis) + 1000)) else {
            if isClosed { throw KafkaError.closed }
            throw KafkaError.timeout("\(what) got no answer within \(timeout)")
        }
        defer { rd_kafka_event_destroy(event) }
        let code = rd_kafka_event_error(event)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(code, detail: rd_kafka_event_error_string(event).map { String(cString: $0) })
        }
        try read(event)
    }

    private static func throwFirstError(_ results: UnsafeMutablePointer<OpaquePointer?>, _ count: Int) throws {
        for index in 0..<count {
            let code = rd_kafka_topic_result_error(results[index])
            guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError(code, detail: rd_kafka_topic_result_error_string(results[index]).map { String(cString: $0) })
            }
        }
    }
}

extension NativeHandle {
    /// Waits up to `timeout` for the handle's outstanding messages to be acknowledged; returns
    /// how many are still outstanding (0 when everything was delivered or the handle is closed).
    func flush(timeout: Duration) -> Int {
        (try? withHandle { rk -> Int in
            _ = rd_kafka_flush(rk, timeout.milliseconds)
            return Int(rd_kafka_outq_len(rk))
        }) ?? 0
    }
}
