import KafkaProto

/// The `AsyncIterator` of every consumer type: calls the `async` `consume()`,
/// ends the sequence at `KafkaError.noData` (a consumer's retry limit ran
/// out) or `KafkaError.mxClosed` (a multiplexer closed, e.g. after its last
/// consumer ended) and throws every other error.
public struct ConsumerIterator<Source: Consumer>: AsyncIteratorProtocol {
    public typealias Element = Message
    private let source: Source

    /// Iterates over `source`.
    public init(_ source: Source) {
        self.source = source
    }

    /// The next message, or `nil` once the source reports `KafkaError.noData` or `KafkaError.mxClosed`.
    nonisolated(nonsending) public mutating func next() async throws -> Message? {
        do {
            return try await source.consume()
        } catch KafkaError.noData {
            return nil
        } catch KafkaError.mxClosed {
            return nil
        }
    }

    /// What `for try await` calls: ``next()`` on the caller's actor, so a loop
    /// on an actor does not hop threads per message.
    public mutating func next(isolation actor: isolated (any Actor)?) async throws -> Message? {
        try await next()
    }
}
