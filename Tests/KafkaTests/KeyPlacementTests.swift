import KafkaProto
import Testing
import KafkaTestSupport

@Suite("Key placement: Java's murmur2, Go's FNV-1a, librdkafka's consistent", .ownThreads)
struct KeyPlacementTests {
    @Test("murmur2 and Java's partition match kafka-python's on every golden vector")
    func murmur2GoldenVectors() {
        #expect(murmur2Vectors.count > 100)
        for vector in murmur2Vectors {
            #expect(Partitioner.murmur2(vector.key) == vector.murmur2, "murmur2 of \(vector.key)")
            for (index, count) in murmur2PartitionCounts.enumerated() {
                #expect(
                    KeyPlacement.murmur2.partition(of: vector.key, partitions: count) == vector.partitions[index],
                    "partition of \(vector.key) among \(count)"
                )
            }
        }
    }

    @Test("fnv1a placement is Go's hash producer's; consistent is CRC-32 modulo the count")
    func otherPlacements() throws {
        for key in [[UInt8](), Array("a".utf8), Array("order-42".utf8), [255, 0, 7]] {
            for count: Int32 in [1, 3, 8, 1000] {
                #expect(KeyPlacement.fnv1a.partition(of: key, partitions: count) == (try Partitioner.hashPartition(key: key, partitions: count)))
                #expect(KeyPlacement.consistent.partition(of: key, partitions: count) == Int32(CRC32.checksum(key) % UInt32(count)))
            }
        }
        // librdkafka's consistent partitioner on "foobar": CRC-32 0x9EF61F95.
        #expect(CRC32.checksum(Array("foobar".utf8)) == 0x9EF6_1F95)
    }

    @Test("a partition count below 1 places every key on partition 0, never traps")
    func degenerateCounts() {
        for placement in [KeyPlacement.murmur2, .fnv1a, .consistent] {
            for count: Int32 in [0, -1, .min] {
                #expect(placement.partition(of: Array("k".utf8), partitions: count) == 0)
            }
        }
    }
}
