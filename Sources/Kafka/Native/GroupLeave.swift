import Crdkafka
import KafkaProto

/// A group member's last steps before its handle is destroyed: commit what it handed out (when
/// its policy commits) and leave the group, with librdkafka's own blocking calls, which serve the
/// final revoke (and so the service's hook) themselves.
///
/// They wait as long as the coordinator takes; the handle runs them inside its teardown, which
/// `close()` waits for at most ``GroupConsumerConf/closeTimeout`` (see ``NativeHandle/teardownLimit``).
/// With a coordinator that does not answer they go on in the background until librdkafka gives up,
/// and the handle is destroyed then.
enum GroupLeave {
    /// Runs the steps on the live handle `rk`, with no other user; logs a commit that failed,
    /// naming the positions it did not commit.
    static func run(_ rk: OpaquePointer, commit: Bool, group: String, logger: any KafkaLogger) {
        if commit {
            let code = rd_kafka_commit(rk, nil, 0)
            if code != RD_KAFKA_RESP_ERR_NO_ERROR && code != RD_KAFKA_RESP_ERR__NO_OFFSET {
                logger.warn("group member's final commit failed; these positions may be read again by the group", [
                    ("group", group), ("error", KafkaError(code).description), ("notCommitted", storedPositions(rk)),
                ])
            }
        }
        let code = rd_kafka_consumer_close(rk)
        if code != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.warn("group member did not leave the group cleanly", [("group", group), ("error", KafkaError(code).description)])
        }
    }

    /// The assignment's positions (the next offset to read) as `topic/partition@offset`, for the log.
    private static func storedPositions(_ rk: OpaquePointer) -> String {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        guard rd_kafka_assignment(rk, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return "" }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        _ = rd_kafka_position(rk, list)
        return GroupHandle.offsets(list).sorted { $0.key < $1.key }.filter { $0.value >= 0 }
            .map { "\($0.key)@\($0.value)" }.joined(separator: " ")
    }
}
