/// Kafka's rules for names, as the library checks them before any request.
public enum KafkaNames {
    /// Checks Kafka's topic name rule: 1 to 249 characters from `[a-zA-Z0-9._-]`, not "." or "..".
    /// - Throws: `KafkaError.invalidArgument(_:)` saying what is wrong.
    public static func validateTopic(_ topic: String) throws(KafkaError) {
        try validateTopicName(topic)
    }
}

/// Kafka's topic name rule: 1 to 249 characters from [a-zA-Z0-9._-].
func validateTopicName(_ topic: String) throws(KafkaError) {
    guard !topic.isEmpty else {
        throw .invalidArgument("topic name is empty")
    }
    guard topic.utf8.count <= 249 else {
        throw .invalidArgument("topic name is \(topic.utf8.count) characters long; Kafka allows at most 249")
    }
    guard topic != "." && topic != ".." else {
        throw .invalidArgument("topic name \"\(topic)\" is reserved")
    }
    for byte in topic.utf8 {
        let legal = (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x30 && byte <= 0x39)
            || byte == 0x2E || byte == 0x5F || byte == 0x2D
        guard legal else {
            throw .invalidArgument("topic name \"\(topic)\" has an illegal character; use only a-z, A-Z, 0-9, '.', '_' and '-'")
        }
    }
}

func validatePartition(_ partition: Int32) throws(KafkaError) {
    guard partition >= 0 else {
        throw .invalidArgument("partition \(partition) is negative")
    }
}
