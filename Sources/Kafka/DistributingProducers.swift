import Synchronization

/// Distributes each call to a uniformly random partition: Go's `NewRandomProducer`.
/// With 0 or fewer partitions every call goes to partition 0, as in Go.
public final class RandomProducer<Wrapped: Producer>: DistributingProducer {
    /// The producer that writes.
    public let producer: Wrapped
    private let chooser: Mutex<RandomPartitionChooser<SystemRandomNumberGenerator>>

    /// Wraps `producer`, choosing among `partitions` partitions.
    public init(_ producer: Wrapped, partitions: Int32) {
        self.producer = producer
        self.chooser = Mutex(RandomPartitionChooser(partitions: partitions))
    }

    /// Writes all `messages` to one random partition; same errors as the wrapped producer.
    public func distribute(_ topic: String, messages: inout [Message]) throws -> Int64 {
        try producer.produce(topic, partition: chooser.withLock { $0.choose() }, messages: &messages)
    }

    /// The `async` twin of ``distribute(_:messages:)-4mdgt``.
    public func distribute(_ topic: String, messages: inout [Message]) async throws -> Int64 {
        try await producer.produce(topic, partition: chooser.withLock { $0.choose() }, messages: &messages)
    }
}

/// Distributes calls over partitions 0, 1, ..., n-1, 0, ...: Go's `NewRoundRobinProducer`.
/// With 0 or fewer partitions every call goes to partition 0, as in Go.
public final class RoundRobinProducer<Wrapped: Producer>: DistributingProducer {
    /// The producer that writes.
    public let producer: Wrapped
    private let chooser: Mutex<RoundRobinPartitionChooser>

    /// Wraps `producer`, cycling over `partitions` partitions from 0.
    public init(_ producer: Wrapped, partitions: Int32) {
        self.producer = producer
        self.chooser = Mutex(RoundRobinPartitionChooser(partitions: partitions))
    }

    /// Writes all `messages` to the next partition of the cycle; same errors as the wrapped producer.
    public func distribute(_ topic: String, messages: inout [Message]) throws -> Int64 {
        try producer.produce(topic, partition: chooser.withLock { $0.choose() }, messages: &messages)
    }

    /// The `async` twin of ``distribute(_:messages:)-8gmw1``.
    public func distribute(_ topic: String, messages: inout [Message]) async throws -> Int64 {
        try await producer.produce(topic, partition: chooser.withLock { $0.choose() }, messages: &messages)
    }
}

/// Distributes by key hash, Go's `NewHashProducer`: FNV-1a of the key, Go's
/// arithmetic (see `Partitioner.hashPartition(key:partitions:)`).
///
/// Every message of a call must map to the same partition; unlike Go, which
/// skipped the second message, every message is checked.
public final class HashProducer<Wrapped: Producer>: DistributingProducer {
    /// The producer that writes.
    public let producer: Wrapped
    /// The partition count keys are hashed over.
    public let partitions: Int32

    /// Wraps `producer`, hashing keys over `partitions` partitions.
    public init(_ producer: Wrapped, partitions: Int32) {
        self.producer = producer
        self.partitions = partitions
    }

    /// The partition all of `messages` go to.
    /// - Throws: `KafkaError.invalidArgument(_:)` for no messages ("no messages"), a nil key
    ///   ("no key"), a partition count of 0 or less, or keys that map to different partitions.
    public func partition(for messages: [Message]) throws -> Int32 {
        guard let first = messages.first else { throw KafkaError.invalidArgument("no messages") }
        let partition = try Partitioner.hashPartition(key: first.key, partitions: partitions)
        for (index, message) in messages.enumerated().dropFirst() {
            let other = try Partitioner.hashPartition(key: message.key, partitions: partitions)
            guard other == partition else {
                throw KafkaError.invalidArgument(
                    "cannot publish messages to different destinations: message 0 maps to partition \(partition), message \(index) to \(other)"
                )
            }
        }
        return partition
    }

    /// Writes all `messages` to their key's partition; nothing is written when any check fails.
    public func distribute(_ topic: String, messages: inout [Message]) throws -> Int64 {
        try producer.produce(topic, partition: partition(for: messages), messages: &messages)
    }

    /// The `async` twin of ``distribute(_:messages:)-7x2gf``.
    public func distribute(_ topic: String, messages: inout [Message]) async throws -> Int64 {
        try await producer.produce(topic, partition: partition(for: messages), messages: &messages)
    }
}
