/// Go-compatible partition choice, shared by the distributing producers and the test doubles.
public enum Partitioner {
    /// The 32-bit FNV-1a hash of `key` (offset basis 0x811C9DC5, prime 0x01000193), as Go's `hash/fnv.New32a`.
    public static func fnv1a32<Bytes: Sequence>(_ key: Bytes) -> UInt32 where Bytes.Element == UInt8 {
        var hash: UInt32 = 0x811C_9DC5
        for byte in key {
            hash ^= UInt32(byte)
            hash = hash &* 0x0100_0193
        }
        return hash
    }

    /// The partition Go's `NewHashProducer` picks for `key` among `partitions`.
    ///
    /// The hash is FNV-1a 32-bit taken as an `Int32`, negated when negative,
    /// modulo the partition count: Go's result exactly for every key but one
    /// sum. For the hash 0x80000000, where Go yields a negative partition, the
    /// result is the magnitude 2^31 modulo the count as unsigned arithmetic,
    /// which is what librdkafka's `fnv1a` partitioner picks.
    ///
    /// - Throws: ``KafkaError/invalidArgument(_:)`` for a `nil` key ("no key",
    ///   as Go) and for a partition count of 0 or less (Go panics there).
    public static func hashPartition(key: [UInt8]?, partitions: Int32) throws(KafkaError) -> Int32 {
        guard let key else {
            throw .invalidArgument("cannot hash message: no key (the hash producer needs a non-nil key on every message)")
        }
        guard partitions > 0 else {
            throw .invalidArgument("cannot hash message: partition count must be positive, got \(partitions)")
        }
        let signed = Int32(bitPattern: fnv1a32(key))
        if signed == Int32.min {
            return Int32(UInt32(0x8000_0000) % UInt32(partitions))
        }
        return (signed < 0 ? -signed : signed) % partitions
    }
}

/// Picks partitions in the cycle 0, 1, ..., n-1, 0, ... Go's `NewRoundRobinProducer` order.
/// With 0 or fewer partitions it always picks 0, as Go does. Not thread-safe by itself.
public struct RoundRobinPartitionChooser: Sendable {
    /// The partition count; 0 or less means "always 0".
    public let partitions: Int32
    private var next: Int32 = 0

    /// Creates a chooser that starts at partition 0.
    public init(partitions: Int32) {
        self.partitions = partitions
    }

    /// Returns the next partition of the cycle.
    public mutating func choose() -> Int32 {
        guard partitions > 0 else { return 0 }
        let chosen = next
        next = next + 1 >= partitions ? 0 : next + 1
        return chosen
    }
}

/// Picks a uniformly random partition in `0..<n` with the given generator,
/// Go's `NewRandomProducer` rule; 0 or fewer partitions always give 0 (Go
/// does so because a topic being auto-created may report no partitions).
public struct RandomPartitionChooser<Generator: RandomNumberGenerator & Sendable>: Sendable {
    /// The partition count; 0 or less means "always 0".
    public let partitions: Int32
    private var generator: Generator

    /// Creates a chooser over `partitions` partitions drawing from `generator`.
    public init(partitions: Int32, generator: Generator) {
        self.partitions = partitions
        self.generator = generator
    }

    /// Returns a random partition.
    public mutating func choose() -> Int32 {
        guard partitions > 0 else { return 0 }
        return Int32.random(in: 0..<partitions, using: &generator)
    }
}

extension RandomPartitionChooser where Generator == SystemRandomNumberGenerator {
    /// Creates a chooser backed by the system's random number generator.
    public init(partitions: Int32) {
        self.init(partitions: partitions, generator: SystemRandomNumberGenerator())
    }
}
