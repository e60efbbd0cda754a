import Foundation
import KafkaProto
import Testing

/// One row of Fixtures/hash-vectors.tsv: a key and the partitions Go's hash producer picks.
struct HashVector: CustomTestStringConvertible, Sendable {
    let key: [UInt8]
    let expected: [(partitions: Int32, partition: Int32)]
    let description: String
    var testDescription: String { description }

    static func load() throws -> [HashVector] {
        let url = try #require(Bundle.module.url(forResource: "hash-vectors", withExtension: "tsv", subdirectory: "Fixtures"))
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
        let headerLine = try #require(lines.first { $0.hasPrefix("key\t") })
        let counts = headerLine.split(separator: "\t").dropFirst().dropLast().map { Int32($0.dropFirst())! }
        return try lines.filter { !$0.hasPrefix("#") && !$0.hasPrefix("key\t") }.map { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            let partitions = fields[1...counts.count].map { Int32($0)! }
            return HashVector(key: try decodeKey(fields[0]), expected: Array(zip(counts, partitions)), description: fields.last!)
        }
    }

    static func decodeKey(_ text: String) throws -> [UInt8] {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        switch parts[0] {
        case "hex":
            let hex = Array(parts[1])
            return stride(from: 0, to: hex.count, by: 2).map { UInt8(String(hex[$0...$0 + 1]), radix: 16)! }
        case "repeat":
            return Array(repeating: UInt8(parts[1], radix: 16)!, count: Int(parts[2])!)
        case "range":
            return Array(UInt8(parts[1], radix: 16)!...UInt8(parts[2], radix: 16)!)
        default:
            throw KafkaError.invalidArgument("unknown key encoding \(text)")
        }
    }
}

@Suite("Go-compatible hash partitioner")
struct HashPartitionTests {
    @Test("the fixture holds every row of the reference table")
    func fixtureIsComplete() throws {
        #expect(try HashVector.load().count == 17)
    }

    @Test("picks the partition Go picks for every key and partition count", arguments: try HashVector.load())
    func matchesGo(vector: HashVector) throws {
        for (count, partition) in vector.expected {
            #expect(try Partitioner.hashPartition(key: vector.key, partitions: count) == partition, "n=\(count)")
        }
    }

    @Test("an empty key is valid and distinct from nil")
    func emptyKeyHashes() throws {
        #expect(try Partitioner.hashPartition(key: [], partitions: 10) == 5)
        #expect(throws: KafkaError.self) { try Partitioner.hashPartition(key: nil, partitions: 10) }
    }

    @Test("a nil key is an error naming the missing key")
    func nilKeyIsAnError() {
        let error = #expect(throws: KafkaError.self) { try Partitioner.hashPartition(key: nil, partitions: 3) }
        #expect(error?.description.contains("no key") == true)
    }

    @Test("a partition count of zero or less is an error, not a crash", arguments: [0, -1, Int32.min])
    func nonPositiveCountIsAnError(count: Int32) {
        let error = #expect(throws: KafkaError.self) { try Partitioner.hashPartition(key: Array("foo".utf8), partitions: count) }
        #expect(error?.description.contains("positive") == true)
    }

    @Test("FNV-1a matches the reference sums")
    func fnvSums() {
        #expect(Partitioner.fnv1a32([UInt8]()) == 0x811C_9DC5)
        #expect(Partitioner.fnv1a32(Array("a".utf8)) == 0xE40C_292C)
        let special: [UInt8] = [0x67, 0x6f, 0x2d, 0x6d, 0x69, 0x6e, 0x69, 0x6e, 0x74, 0x2d, 0x61, 0x6f, 0x32, 0x65, 0x4c, 0xd5]
        #expect(Partitioner.fnv1a32(special) == 0x8000_0000)
    }

    @Test("Go edge case: \"foo\" over 2147483647 partitions")
    func largeCount() throws {
        #expect(try Partitioner.hashPartition(key: Array("foo".utf8), partitions: Int32.max) == 1_443_660_073)
    }
}

@Suite("Round-robin and random choosers")
struct ChooserTests {
    @Test("round robin cycles 0, 1, 2, 0 over three partitions")
    func roundRobinCycles() {
        var chooser = RoundRobinPartitionChooser(partitions: 3)
        #expect((0..<7).map { _ in chooser.choose() } == [0, 1, 2, 0, 1, 2, 0])
    }

    @Test("round robin and random pick 0 when no partition count is known", arguments: [0, -4] as [Int32])
    func noPartitionsGivesZero(count: Int32) {
        var roundRobin = RoundRobinPartitionChooser(partitions: count)
        var random = RandomPartitionChooser(partitions: count)
        #expect((0..<5).map { _ in roundRobin.choose() } == [0, 0, 0, 0, 0])
        #expect((0..<5).map { _ in random.choose() } == [0, 0, 0, 0, 0])
    }

    @Test("random stays in range and reaches every partition")
    func randomCoversRange() {
        var random = RandomPartitionChooser(partitions: 4)
        let picks = Set((0..<400).map { _ in random.choose() })
        #expect(picks == [0, 1, 2, 3])
    }
}
