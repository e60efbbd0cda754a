import Kafka

/// The exactly-once processing loop of `kafka-service --exactly-once`: reads a batch of inputs
/// as a group member, and in one transaction writes one result per input and sends the inputs'
/// offsets, so a result becomes visible exactly when its input counts as consumed. Generic over
/// the protocols, so the same loop runs on the in-memory tier (KafkaTest) in tests.
public struct ExactlyOnceLoop<Producer: TransactionalProducing, Consumer: TransactionalConsumer>: Sendable {
    /// The group member reading the inputs (with ``GroupConsumerConf/CommitPolicy/manual``).
    public let consumer: Consumer
    /// The transactional producer writing the results.
    public let producer: Producer
    /// The topic results go to, on the input's partition number.
    public let output: String

    /// A loop reading with `consumer` and writing to `output` with `producer`.
    public init(consumer: Consumer, producer: Producer, output: String) {
        self.consumer = consumer
        self.producer = producer
        self.output = output
    }

    /// The result written for `input`: its position and its value.
    public static func result(of input: Message) -> Message {
        Message(key: input.key, value: Array("\(input.topic)/\(input.partition)/\(input.offset): ".utf8) + (input.value ?? []))
    }

    /// Runs until the task is cancelled (a graceful shutdown) or an error that is not abortable;
    /// `processed` counts each committed input. A cancelled task aborts the transaction it was
    /// filling (its inputs are read again by whoever next owns their partitions); a commit that
    /// began runs to its end. An abortable failure aborts, rewinds the member to the committed
    /// offsets and goes on.
    public func run(processed: @Sendable (Int) -> Void = { _ in }) async throws {
        while true {
            let inputs = try await consumer.consumeBatch()
            do {
                try await producer.transaction {
                    for input in inputs {
                        try await producer.produce(output, partition: input.partition, messages: [Self.result(of: input)])
                    }
                    try await producer.sendOffsets(handedOutBy: consumer)
                }
                processed(inputs.count)
            } catch let error as KafkaError where error.transactionFailureKind == .abortable || isDeliveryFailure(error) {
                // The transaction was aborted (the scoped form's abort is best effort: finish it,
                // a no-op when it succeeded): read its inputs again from the committed offsets.
                try await producer.abortTransaction()
                try consumer.rewindToCommitted()
            }
        }
    }

    /// A produce that failed inside the transaction (the scoped form aborted it): not the
    /// producer's end, unlike a fatal or closed error.
    private func isDeliveryFailure(_ error: KafkaError) -> Bool {
        switch error {
        case .broker, .local: true
        default: false
        }
    }
}
