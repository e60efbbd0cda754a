/// How a record's key chooses its partition, for producers that place records themselves
/// (``Partitioner`` holds the hash functions).
public enum KeyPlacement: Sendable, Equatable {
    /// Java's default partitioner: `toPositive(murmur2(key)) % partitions`, so Java, franz-go
    /// (with its Kafka-compatible hasher) and this library put one key on the same partition.
    case murmur2
    /// Go's `NewHashProducer`: FNV-1a of the key (``Partitioner/hashPartition(key:partitions:)``),
    /// for services ported from optiopay/kafka.
    case fnv1a
    /// librdkafka's `consistent_random`: CRC-32 of the key modulo the partition count.
    case consistent

    /// The partition of `key` among `partitions`; a count below 1 is taken as 1 (partition 0).
    public func partition(of key: [UInt8], partitions: Int32) -> Int32 {
        let count = max(1, partitions)
        switch self {
        case .murmur2:
            return Partitioner.javaPartition(key: key, partitions: count)
        case .fnv1a:
            // Cannot throw: the key is there and the count positive.
            return (try? Partitioner.hashPartition(key: key, partitions: count)) ?? 0
        case .consistent:
            return Int32(CRC32.checksum(key) % UInt32(count))
        }
    }
}

extension Partitioner {
    /// Kafka's murmur2 (Java's `Utils.murmur2`): the 32-bit MurmurHash2 with seed 0x9747B28C,
    /// as a signed 32-bit value, exactly as the Java client computes it.
    public static func murmur2(_ key: [UInt8]) -> Int32 {
        let m: UInt32 = 0x5BD1_E995
        let length = key.count
        var h: UInt32 = 0x9747_B28C ^ UInt32(truncatingIfNeeded: length)
        let whole = length / 4
        key.withUnsafeBufferPointer { bytes in
            for block in 0..<whole {
                let base = block * 4
                var k = UInt32(bytes[base]) | UInt32(bytes[base + 1]) << 8 | UInt32(bytes[base + 2]) << 16 | UInt32(bytes[base + 3]) << 24
                k = k &* m
                k ^= k >> 24
                k = k &* m
                h = h &* m
                h ^= k
            }
            let tail = whole * 4
            switch length % 4 {
            case 3:
                h ^= UInt32(bytes[tail + 2]) << 16
                h ^= UInt32(bytes[tail + 1]) << 8
                h ^= UInt32(bytes[tail])
                h = h &* m
            case 2:
                h ^= UInt32(bytes[tail + 1]) << 8
                h ^= UInt32(bytes[tail])
                h = h &* m
            case 1:
                h ^= UInt32(bytes[tail])
                h = h &* m
            default:
                break
            }
        }
        h ^= h >> 13
        h = h &* m
        h ^= h >> 15
        return Int32(bitPattern: h)
    }

    /// The partition Java's default partitioner picks for a non-null `key`:
    /// `(murmur2(key) & 0x7fffffff) % partitions`. `partitions` must be positive.
    public static func javaPartition(key: [UInt8], partitions: Int32) -> Int32 {
        (murmur2(key) & 0x7FFF_FFFF) % max(1, partitions)
    }
}
