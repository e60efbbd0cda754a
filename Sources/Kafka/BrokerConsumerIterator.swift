import KafkaProto

extension BrokerConsumer {
    /// The `AsyncIterator` of ``BrokerConsumer``: the `async` ``BrokerConsumer/consume()-6yqd7``,
    /// ending the sequence at `KafkaError.noData` and throwing every other error.
    ///
    /// A buffered message is handed out by a plain call, without entering another
    /// `async` function, which is what makes `for try await` over a consumer cheap
    /// per message. Messages stay in the consumer until handed out, so iteration
    /// can stop at any point and a later ``BrokerConsumer/consume()-yiqi`` continues
    /// with the next message: no gap, no repeat.
    public struct Iterator: AsyncIteratorProtocol {
        public typealias Element = Message
        @usableFromInline let consumer: BrokerConsumer
        /// The shared iterator, for everything but the buffered fast path (fetches, noData).
        @usableFromInline var waiting: ConsumerIterator<BrokerConsumer>

        /// Iterates over `consumer`.
        public init(_ consumer: BrokerConsumer) {
            self.consumer = consumer
            self.waiting = ConsumerIterator(consumer)
        }

        /// The next message, or `nil` once the consumer reports `KafkaError.noData`.
        /// - Throws: every error of ``BrokerConsumer/consume()-yiqi`` but `KafkaError.noData`.
        nonisolated(nonsending) public mutating func next() async throws -> Message? {
            try await waiting.next()
        }

        /// What `for try await` calls: ``next()`` on the caller's actor, so a loop
        /// on an actor does not hop threads per message. Inlinable, so that in the
        /// caller's loop a buffered message costs a plain call and no executor check.
        @inlinable
        public mutating func next(isolation actor: isolated (any Actor)?) async throws -> Message? {
            if let message = consumer.takeBufferedWithoutWaiting() { return message }
            return try await waiting.next()
        }
    }
}
