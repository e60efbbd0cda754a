import Kafka

extension ProcessingLoop where Consumer == MockGroupConsumer {
    /// A processing loop over the in-memory group `group` of `broker`, with the same rules as one
    /// over a real ``Broker``; a dead-letter policy sends through a `MockSender` of `broker`.
    /// - Throws: `KafkaError.invalidConfiguration(_:)` for invalid settings; as ``MockBroker/groupConsumer(_:)``.
    public convenience init(
        broker: MockBroker, group: GroupConsumerConf, conf: ProcessingConf = ProcessingConf(),
        handler: @escaping @Sendable (Message) async throws -> Void
    ) throws {
        try conf.validate()
        var deadLetters: MockSender?
        if case .retry(_, _, .deadLetter) = conf.failure { deadLetters = try broker.sender(SenderConf()) }
        try self.init(group: group, conf: conf, deadLetters: deadLetters, makeConsumer: { try broker.groupConsumer($0) }, handler: handler)
    }
}
