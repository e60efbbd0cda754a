import Crdkafka
import PropertyBased
import Testing

@testable import Kafka
import KafkaTestSupport

// Tests of the consumer's header-count fast path (Sources/Kafka/Native/HeaderlessRecord.swift
// and RecordBytes.swift): the run-time version gate, and the byte-level parser against a
// plain reference decoder of Kafka's v2 record format, over record batches built byte by byte
// with every value-length varint size, null and empty values, 0...3 headers with random names
// and values, and truncated buffers. Every buffer the parser sees is copied into an allocation
// of exactly its size, so under AddressSanitizer (`swift test --sanitize=address`) a read of
// any byte outside it fails the run. See also Fuzz/ (libFuzzer over the same parser).

// MARK: - Writing v2 records (the generator side)

struct HeaderSpec: Sendable, Equatable {
    var key: [UInt8]
    var value: [UInt8]?
}

struct RecordSpec: Sendable {
    var key: [UInt8]?
    /// nil: a null value (tombstone); otherwise its length, filled by `fill` with edges `edges`.
    var valueLength: Int?
    var fill: UInt8
    var edges: [UInt8]
    var headers: [HeaderSpec]
    var timestampDelta: Int64
}

/// Kafka's v2 encoding, written out field by field (independently of RecordBytes).
enum V2Writer {
    static func varint(_ value: Int64, to out: inout [UInt8]) {
        var zigzag = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        while zigzag >= 0x80 {
            out.append(UInt8(zigzag & 0x7F) | 0x80)
            zigzag >>= 7
        }
        out.append(UInt8(zigzag))
    }

    static func field(_ bytes: [UInt8]?, to out: inout [UInt8]) {
        guard let bytes else { return varint(-1, to: &out) }
        varint(Int64(bytes.count), to: &out)
        out += bytes
    }

    static func bigEndian<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { out += $0 }
    }

    /// Appends one record; returns where its value starts in `out` (nil for a null value).
    @discardableResult
    static func record(_ spec: RecordSpec, offsetDelta: Int, to out: inout [UInt8]) -> Int? {
        var head: [UInt8] = [0]  // attributes
        varint(spec.timestampDelta, to: &head)
        varint(Int64(offsetDelta), to: &head)
        field(spec.key, to: &head)
        varint(Int64(spec.valueLength ?? -1), to: &head)
        var tail: [UInt8] = []
        varint(Int64(spec.headers.count), to: &tail)
        for header in spec.headers {
            field(header.key, to: &tail)
            field(header.value, to: &tail)
        }
        varint(Int64(head.count + (spec.valueLength ?? 0) + tail.count), to: &out)
        out += head
        let valueStart = out.count
        if let length = spec.valueLength {
            out += [UInt8](repeating: spec.fill, count: length)
            for (index, byte) in spec.edges.prefix(length).enumerated() {
                out[valueStart + (index.isMultiple(of: 2) ? index / 2 : length - 1 - index / 2)] = byte
            }
        }
        out += tail
        return spec.valueLength == nil ? nil : valueStart
    }

    /// A whole v2 record batch (magic 2; the CRC is left 0, the reference decoder ignores it).
    static func batch(_ records: [RecordSpec]) -> [UInt8] {
        var out: [UInt8] = []
        bigEndian(Int64(1000), to: &out)  // baseOffset
        bigEndian(Int32(0), to: &out)  // batchLength, patched below
        bigEndian(Int32(0), to: &out)  // partitionLeaderEpoch
        out.append(2)  // magic
        bigEndian(UInt32(0), to: &out)  // crc
        bigEndian(Int16(0), to: &out)  // attributes
        bigEndian(Int32(records.count - 1), to: &out)  // lastOffsetDelta
        bigEndian(Int64(1_700_000_000_000), to: &out)  // firstTimestamp
        bigEndian(Int64(1_700_000_000_000), to: &out)  // maxTimestamp
        bigEndian(Int64(-1), to: &out)  // producerId
        bigEndian(Int16(-1), to: &out)  // producerEpoch
        bigEndian(Int32(-1), to: &out)  // baseSequence
        bigEndian(Int32(records.count), to: &out)  // records
        for (index, spec) in records.enumerated() { record(spec, offsetDelta: index, to: &out) }
        let batchLength = Int32(out.count - 12).bigEndian
        withUnsafeBytes(of: batchLength) { out.replaceSubrange(8..<12, with: $0) }
        return out
    }

    /// A legacy MessageSet entry (magic 0 or 1): lengths are 4-byte big-endian integers.
    /// Returns where the value starts.
    static func legacyMessage(magic: UInt8, key: [UInt8]?, valueLength: Int, to out: inout [UInt8]) -> Int {
        bigEndian(Int64(7), to: &out)  // offset
        let sizeAt = out.count
        bigEndian(Int32(0), to: &out)  // message size, patched below
        bigEndian(UInt32(0), to: &out)  // crc
        out.append(magic)
        out.append(0)  // attributes
        if magic == 1 { bigEndian(Int64(1_700_000_000_000), to: &out) }
        bigEndian(Int32(key.map { $0.count } ?? -1), to: &out)
        out += key ?? []
        bigEndian(Int32(valueLength), to: &out)
        let valueStart = out.count
        out += [UInt8](repeating: 0xAB, count: valueLength)
        withUnsafeBytes(of: Int32(out.count - sizeAt - 4).bigEndian) { out.replaceSubrange(sizeAt..<sizeAt + 4, with: $0) }
        return valueStart
    }
}

// MARK: - Reading v2 records (the reference decoder)

struct ReferenceRecord: Equatable {
    var key: [UInt8]?
    var valueOffset: Int?
    var valueLength: Int
    var headers: [HeaderSpec]
}

enum ReferenceError: Error { case truncated, malformed }

/// A straightforward decoder of a v2 record batch: reads every field in order.
struct ReferenceDecoder {
    let bytes: [UInt8]
    var at = 0

    mutating func byte() throws -> UInt8 {
        guard at < bytes.count else { throw ReferenceError.truncated }
        defer { at += 1 }
        return bytes[at]
    }

    mutating func bigEndian(_ size: Int) throws -> Int64 {
        var value: Int64 = 0
        for _ in 0..<size { value = value << 8 | Int64(try byte()) }
        return value
    }

    mutating func varint() throws -> Int64 {
        var raw: UInt64 = 0
        for shift in stride(from: UInt64(0), to: 70, by: 7) {
            let byte = try byte()
            raw |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1) }
        }
        throw ReferenceError.malformed
    }

    /// A length-prefixed field; nil for -1. Returns where its bytes start.
    mutating func field() throws -> (offset: Int, bytes: [UInt8]?) {
        let length = try varint()
        let offset = at
        if length == -1 { return (offset, nil) }
        guard length >= 0 else { throw ReferenceError.malformed }
        guard Int64(bytes.count - at) >= length else { throw ReferenceError.truncated }
        at += Int(length)
        return (offset, Array(bytes[offset..<at]))
    }

    static func batch(_ bytes: [UInt8]) throws -> [ReferenceRecord] {
        var reader = ReferenceDecoder(bytes: bytes)
        _ = try reader.bigEndian(8)  // baseOffset
        let batchLength = try reader.bigEndian(4)
        guard batchLength == Int64(bytes.count - 12) else { throw ReferenceError.malformed }
        _ = try reader.bigEndian(4)  // partitionLeaderEpoch
        guard try reader.byte() == 2 else { throw ReferenceError.malformed }
        _ = try reader.bigEndian(4 + 2 + 4 + 8 + 8 + 8 + 2 + 4)  // crc ... baseSequence
        let count = try reader.bigEndian(4)
        var records: [ReferenceRecord] = []
        for _ in 0..<count {
            let length = try reader.varint()
            let end = reader.at + Int(length)
            _ = try reader.byte()  // attributes
            _ = try reader.varint()  // timestampDelta
            _ = try reader.varint()  // offsetDelta
            let key = try reader.field().bytes
            let valueLength = try reader.varint()
            let valueOffset = reader.at
            reader.at += Int(max(valueLength, 0))
            var headers: [HeaderSpec] = []
            for _ in 0..<(try reader.varint()) {
                guard let key = try reader.field().bytes else { throw ReferenceError.malformed }
                headers.append(HeaderSpec(key: key, value: try reader.field().bytes))
            }
            guard reader.at == end else { throw ReferenceError.malformed }
            records.append(
                ReferenceRecord(key: key, valueOffset: valueLength < 0 ? nil : valueOffset, valueLength: Int(valueLength), headers: headers)
            )
        }
        guard reader.at == bytes.count else { throw ReferenceError.malformed }
        return records
    }
}

// MARK: - Calling the parser on exact allocations

/// `RecordBytes.isHeaderless` over a copy of `bytes[window]` in an allocation of exactly that
/// size (so that AddressSanitizer sees any read outside it), with `valueOffset` made relative.
func parse(_ bytes: [UInt8], window: Range<Int>, valueOffset: Int, valueLength: Int) -> Bool {
    let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: window.count, alignment: 1)
    defer { storage.deallocate() }
    bytes[window].withUnsafeBytes { storage.copyMemory(from: $0) }
    return RecordBytes.isHeaderless(UnsafeRawBufferPointer(storage), valueOffset: valueOffset - window.lowerBound, valueLength: valueLength)
}

/// What the parser must answer for a record the reference decoder read, when the buffer it
/// is given is `window` of the batch: true exactly for a non-empty value of a record without
/// headers, when the window holds the value's length varint and the header count after it.
func expectedAnswer(_ record: ReferenceRecord, window: Range<Int>) -> Bool {
    guard let valueOffset = record.valueOffset, record.valueLength > 0, record.headers.isEmpty else { return false }
    var varint: [UInt8] = []
    V2Writer.varint(Int64(record.valueLength), to: &varint)
    return window.lowerBound <= valueOffset - varint.count && valueOffset + record.valueLength < window.upperBound
}

/// The value length of each varint size: 1 byte up to 63, 2 up to 8191, 3 up to 1,048,575,
/// 4 up to 134,217,727, 5 up to Int32.max (zigzag doubles the value).
let varintSizeBounds: [ClosedRange<Int>] = [1...63, 64...8191, 8192...1_048_575, 1_048_576...134_217_727, 134_217_728...Int(Int32.max)]

// MARK: - Generators

let headerGenerator = zip(
    Gen<UInt8>.value(in: 0...255).array(of: 0...12),
    Gen<UInt8>.value(in: 0...255).array(of: 0...12).optional(valueRate: 0.7)
).map { HeaderSpec(key: $0.0, value: $0.1) }

/// Value lengths: null, empty, and each varint size from 1 to 4 bytes, near its edges and
/// inside it (the 4-byte size, 1 MiB and more, less often; 5 bytes has its own test).
let valueLengthGenerator = zip(Gen.int(in: 0...19), Gen<UInt32>.value()).map { kind, seed -> Int? in
    let seed = Int(seed)
    switch kind {
    case 0, 1: return nil
    case 2, 3: return 0
    case 4...18:
        let bounds = varintSizeBounds[(kind - 4) % 3]
        switch seed % 3 {
        case 0: return bounds.lowerBound + seed / 3 % 3
        case 1: return bounds.upperBound - seed / 3 % 3
        default: return bounds.lowerBound + seed / 3 % (bounds.count)
        }
    default: return varintSizeBounds[3].lowerBound + seed % 3
    }
}

let recordGenerator = zip(
    Gen<UInt8>.value(in: 0...255).array(of: 0...8).optional(valueRate: 0.7),
    valueLengthGenerator,
    zip(Gen<UInt8>.value(in: 0...255), Gen<UInt8>.value(in: 0...255).array(of: 0...4)),
    headerGenerator.array(of: 0...3),
    Gen.int64(in: -1000...100_000)
).map { key, valueLength, content, headers, timestampDelta in
    RecordSpec(key: key, valueLength: valueLength, fill: content.0, edges: content.1, headers: headers, timestampDelta: timestampDelta)
}

/// A batch of 1...4 records, and where to cut it for the truncation checks.
let batchGenerator = zip(recordGenerator.array(of: 1...4), Gen<UInt32>.value(), Gen<UInt32>.value())

// MARK: - Tests

@Suite("HeaderlessRecord", .ownThreads)
struct HeaderlessRecordTests {
    @Test("the fast path is on only for librdkafka 2.0.x and 2.16.x, decided from rd_kafka_version()")
    func versionGate() {
        for version in [0x0200_0000, 0x0200_00FF, 0x0200_02FF, 0x0200_0900, 0x0200_FFFF, 0x0210_0000, 0x0210_00FF, 0x0210_01FF, 0x0210_FFFF] {
            #expect(HeaderPeek.isSupported(versionNumber: version), "\(String(version, radix: 16))")
        }
        for version in [
            0, 0x0001_0000, 0x0109_02FF, 0x01FF_FFFF, 0x0201_00FF, 0x0202_00FF, 0x0203_00FF, 0x020F_FFFF, 0x0211_0000,
            0x0211_00FF, 0x0300_0000, 0x0300_00FF, 0x1200_00FF, 0x7FFF_FFFF, -1, Int(Int32.min),
        ] {
            #expect(!HeaderPeek.isSupported(versionNumber: version), "\(String(version, radix: 16))")
        }
        #expect(HeaderPeek.isEnabled == HeaderPeek.isSupported(versionNumber: Int(rd_kafka_version())))
        #expect(HeaderPeek.isEnabled == HeaderPeek.isSupported(versionNumber: Librdkafka.versionNumber))
    }

    @Test("lengthVarintSize is the size of the minimal zigzag varint, for every size and edge")
    func varintSizes() {
        for (index, bounds) in varintSizeBounds.enumerated() {
            for length in [bounds.lowerBound, bounds.lowerBound + 1, bounds.upperBound - 1, bounds.upperBound] {
                var encoded: [UInt8] = []
                V2Writer.varint(Int64(length), to: &encoded)
                #expect(encoded.count == index + 1)
                #expect(RecordBytes.lengthVarintSize(length) == index + 1)
            }
        }
        #expect(RecordBytes.lengthVarintSize(0) == 1)
        for invalid in [-1, -2, Int(Int32.min), Int.min, Int(Int32.max) + 1, Int(UInt32.max), Int.max] {
            #expect(RecordBytes.lengthVarintSize(invalid) == nil)
        }
    }

    @Test("any arguments: never a read outside the buffer, false whenever a needed byte is outside it")
    func arbitraryArguments() {
        let lengths = [Int.min, Int(Int32.min), -2, -1, 0, 1, 2, 3, 62, 63, 64, 65, 8191, 8192, Int(Int32.max), Int(Int32.max) + 1, Int.max]
        var checked = 0
        for count in [0, 1, 2, 3, 4, 5, 6, 7, 70] {
            // A buffer of minimal length varints followed by zeros: as permissive as bytes get.
            for length in lengths {
                var bytes: [UInt8] = []
                if (0...63).contains(length) { V2Writer.varint(Int64(length), to: &bytes) }
                bytes += [UInt8](repeating: 0, count: max(0, count - bytes.count))
                bytes = Array(bytes.prefix(count))
                let offsets = [Int.min, Int(Int32.min), -6, -1, 0, 1, 2, 5, count - 1, count, count + 1, Int(Int32.max), Int.max - 1, Int.max]
                for offset in offsets {
                    let answer = parse(bytes, window: 0..<count, valueOffset: offset, valueLength: length)
                    let inside = offset >= 1 && length >= 1 && offset <= count && length < count - offset
                    #expect(!answer || inside, "count \(count) offset \(offset) length \(length)")
                    checked += 1
                }
            }
        }
        print("HeaderlessRecord arbitraryArguments: \(checked) argument combinations")
    }

    @Test("agrees with a reference v2 decoder on random record batches, whole and truncated")
    func agreesWithReferenceDecoder() async throws {
        var batches = 0
        var records = 0
        var headerless = 0
        var withHeaders = 0
        var calls = 0
        var answeredTrue = 0
        var sizesSeen = Set<Int>()
        await propertyCheck(count: 1000, input: batchGenerator) { specs, cutSeed, startSeed in
            let bytes = V2Writer.batch(specs)
            let decoded: [ReferenceRecord]
            do { decoded = try ReferenceDecoder.batch(bytes) } catch {
                Issue.record("reference decoder failed on a written batch: \(error)")
                return
            }
            // The writer and the reference decoder agree on what the batch holds.
            #expect(decoded.count == specs.count)
            for (record, spec) in zip(decoded, specs) {
                #expect(record.key == spec.key)
                #expect(record.valueLength == spec.valueLength ?? -1)
                #expect(record.headers == spec.headers)
            }
            batches += 1
            for record in decoded {
                records += 1
                if record.headers.isEmpty { headerless += 1 } else { withHeaders += 1 }
                let valueOffset = record.valueOffset ?? 0
                if record.valueLength > 0 { sizesSeen.insert(RecordBytes.lengthVarintSize(record.valueLength)!) }

                // Windows: the whole batch; then, within the record's neighbourhood (the whole
                // batch when it is small), truncations on either side: at every cut when that
                // is at most 600 bytes, else at the cuts around the value's edges and a random one.
                let valueEnd = valueOffset + max(record.valueLength, 0)
                let near = bytes.count <= 600 ? 0..<bytes.count : max(0, valueOffset - 16)..<min(bytes.count, valueEnd + 16)
                let edgeCuts = Array(valueOffset - 7...valueOffset + 1) + Array(valueEnd - 1...valueEnd + 2)
                let cuts = near.count <= 600 ? Array(near.lowerBound...near.upperBound) : edgeCuts + [near.lowerBound + Int(cutSeed) % (near.count + 1)]
                var windows: [Range<Int>] = [0..<bytes.count, near]
                for cut in cuts where (near.lowerBound...near.upperBound).contains(cut) {
                    windows.append(near.lowerBound..<cut)
                    windows.append(cut..<near.upperBound)
                }
                windows.append(max(0, valueOffset - Int(startSeed % 8))..<min(bytes.count, valueEnd + 1 + Int(startSeed / 8 % 3)))
                for window in windows {
                    let answer = parse(bytes, window: window, valueOffset: valueOffset, valueLength: record.valueLength)
                    calls += 1
                    if answer { answeredTrue += 1 }
                    #expect(answer == expectedAnswer(record, window: window), "window \(window) of \(bytes.count), record \(record.valueLength) bytes at \(valueOffset), \(record.headers.count) headers")
                    if answer != expectedAnswer(record, window: window) { return }
                }
                // The production entry point over a fake librdkafka message pointing into the
                // batch: same answer when the version gate is on, always false when it is off.
                let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 8)
                defer { storage.deallocate() }
                storage.copyBytes(from: bytes)
                var message = rd_kafka_message_t()
                message.payload = record.valueOffset.map { storage.baseAddress! + $0 }
                message.len = max(record.valueLength, 0)
                let viaMessage = withUnsafeMutablePointer(to: &message) { isHeaderless($0) }
                #expect(viaMessage == (HeaderPeek.isEnabled && expectedAnswer(record, window: 0..<bytes.count)))
            }
        }
        print(
            "HeaderlessRecord agreesWithReferenceDecoder: \(batches) batches, \(records) records (\(headerless) without headers, \(withHeaders) with), \(calls) parser calls (\(answeredTrue) answered headerless), length varint sizes \(sizesSeen.sorted())"
        )
        #expect(sizesSeen == [1, 2, 3, 4])
    }

    @Test("value lengths at the edges of every varint size, 1 to 5 bytes, with 0 and 1 headers", arguments: [1, 2, 3, 4, 5])
    func everyVarintSize(size: Int) throws {
        let bounds = varintSizeBounds[size - 1]
        // Int32.max itself would need a 2 GiB value; the 5-byte size is tested at its low edge.
        let lengths = size == 5 ? [bounds.lowerBound] : [bounds.lowerBound, bounds.upperBound]
        for length in lengths {
            for headers in [[], [HeaderSpec(key: [0x68], value: nil)]] {
                let spec = RecordSpec(key: [1, 2], valueLength: length, fill: 0, edges: [0x80, 0x00], headers: headers, timestampDelta: 5)
                let bytes = V2Writer.batch([spec])
                let record = try #require(try ReferenceDecoder.batch(bytes).first)
                #expect(record.valueLength == length)
                let valueOffset = try #require(record.valueOffset)
                let whole = 0..<bytes.count
                #expect(parse(bytes, window: whole, valueOffset: valueOffset, valueLength: length) == headers.isEmpty)
                #expect(expectedAnswer(record, window: whole) == headers.isEmpty)
                // Tight windows: exactly the varint, the value and the count; one byte short either side.
                let tight = valueOffset - size..<valueOffset + length + 1
                #expect(parse(bytes, window: tight, valueOffset: valueOffset, valueLength: length) == headers.isEmpty)
                #expect(!parse(bytes, window: tight.lowerBound + 1..<tight.upperBound, valueOffset: valueOffset, valueLength: length))
                #expect(!parse(bytes, window: tight.lowerBound..<tight.upperBound - 1, valueOffset: valueOffset, valueLength: length))
                // Off by one in the length: the varint no longer matches, or the byte after is the value's.
                #expect(!parse(bytes, window: whole, valueOffset: valueOffset, valueLength: length - 1))
                #expect(!parse(bytes, window: whole, valueOffset: valueOffset, valueLength: length + 1))
            }
        }
    }

    @Test("legacy v0/v1 messages never pass: a 4-byte big-endian length never matches the varint")
    func legacyMessages() {
        var checked = 0
        // Every length up to 70,000 (varint sizes 1 to 3) in one buffer, with the byte after the
        // value set to 0, as the next message's offset (big-endian) usually starts.
        let maxLength = 70_000
        for magic: UInt8 in [0, 1] {
            for key: [UInt8]? in [nil, [0x80, 0x01], [0x02]] {
                var bytes: [UInt8] = []
                let valueOffset = V2Writer.legacyMessage(magic: magic, key: key, valueLength: maxLength, to: &bytes)
                bytes.append(0)
                let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
                defer { storage.deallocate() }
                storage.copyBytes(from: bytes)
                for length in 1...maxLength {
                    withUnsafeBytes(of: Int32(length).bigEndian) { lengthBytes in
                        UnsafeMutableRawBufferPointer(rebasing: storage[valueOffset - 4..<valueOffset]).copyMemory(from: lengthBytes)
                    }
                    storage[valueOffset + length] = 0
                    if RecordBytes.isHeaderless(UnsafeRawBufferPointer(storage), valueOffset: valueOffset, valueLength: length) {
                        Issue.record("legacy magic \(magic) length \(length) passed")
                    }
                    storage[valueOffset + length] = 0xAB
                    checked += 1
                }
            }
        }
        // The 4- and 5-byte sizes: the bytes before the value decide, and the length's top bytes
        // are small where the varint's have the high bit set; checked on whole messages.
        for length in [1_048_576, 1_048_577, 134_217_727, 134_217_728] {
            var bytes: [UInt8] = []
            let valueOffset = V2Writer.legacyMessage(magic: 1, key: nil, valueLength: length, to: &bytes)
            bytes.append(0)
            #expect(!parse(bytes, window: 0..<bytes.count, valueOffset: valueOffset, valueLength: length))
            checked += 1
        }
        print("HeaderlessRecord legacyMessages: \(checked) legacy messages")
    }
}
