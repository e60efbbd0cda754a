// libFuzzer harness for RecordBytes.isHeaderless (Sources/Kafka/Native/RecordBytes.swift), the
// byte-level part of the consumer's header-count fast path. Built by Fuzz/run.sh with
// `swiftc -sanitize=fuzzer,address -parse-as-library` together with RecordBytes.swift.
//
// Every input is copied into an allocation of exactly its size, so AddressSanitizer reports a
// read of any byte before or after it. Each input is used twice:
//
//  A. Arbitrary arguments: the first 8 bytes are `valueOffset` and `valueLength` (two
//     little-endian Int32, so negative, past-the-end and huge values occur), the rest is the
//     buffer. Whenever the parser answers true, an independent check must agree: the bytes just
//     before the value decode as a minimal zigzag varint equal to `valueLength`, and the byte
//     after it is 0.
//  B. Records built byte by byte: the buffer (after those 8 bytes) is read as the records of a
//     v2 record batch by a plain reference decoder. For every record it decodes, the parser,
//     asked about that record's value inside the whole buffer, must agree with the decoder: true
//     exactly when the value is non-null and non-empty, its length varint is minimally encoded,
//     and the header count is a one-byte zero; never true for a record that has headers.

@_cdecl("LLVMFuzzerTestOneInput")
public func headerlessRecordFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size >= 8 else { return 0 }
    let head = UnsafeRawBufferPointer(start: data, count: 8)
    let valueOffset = Int(Int32(bitPattern: head.loadUnaligned(fromByteOffset: 0, as: UInt32.self)))
    let valueLength = Int(Int32(bitPattern: head.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))

    let count = size - 8
    let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 1)
    defer { storage.deallocate() }
    if count > 0 { storage.copyMemory(from: UnsafeRawBufferPointer(start: data + 8, count: count)) }
    let bytes = UnsafeRawBufferPointer(storage)

    // A. Arbitrary arguments, including ones shifted to the edges of the buffer.
    for (offset, length) in [
        (valueOffset, valueLength), (valueOffset & 0xFF, valueLength & 0xFF), (count - (valueLength & 0xFF) - 1, valueLength & 0xFF),
        (valueOffset & 0xFF, count - (valueOffset & 0xFF) - 1), (valueOffset & 0xFF, count - (valueOffset & 0xFF)),
    ] where RecordBytes.isHeaderless(bytes, valueOffset: offset, valueLength: length) {
        check(offset >= 1 && length >= 1 && offset + length < count, "true outside the buffer")
        var reader = Reader(bytes: bytes, at: offset - RecordBytes.lengthVarintSize(length)!)
        let decoded = reader.varint()
        check(decoded?.value == Int64(length) && decoded?.minimal == true && reader.at == offset, "length varint mismatch")
        check(bytes[offset + length] == 0, "header count byte not zero")
    }

    // B. The buffer as the records of a v2 batch.
    var reader = Reader(bytes: bytes, at: 0)
    while let record = reader.record() {
        let fast = RecordBytes.isHeaderless(bytes, valueOffset: record.valueOffset, valueLength: record.valueLength)
        let expected = record.valueLength > 0 && record.valueLengthMinimal && record.headerCount == 0 && record.headerCountSize == 1
        check(fast == expected, "parser disagrees with the reference decoder")
        check(!fast || record.headerCount == 0, "record with headers reported headerless")
    }
    return 0
}

@inline(never)
func check(_ condition: Bool, _ message: StaticString) {
    if !condition { fatalError("\(message)") }
}

/// One record as the reference decoder read it.
struct DecodedRecord {
    var valueOffset: Int
    var valueLength: Int
    var valueLengthMinimal: Bool
    var headerCount: Int64
    var headerCountSize: Int
}

/// A plain decoder of Kafka's v2 record format, written independently of RecordBytes.
struct Reader {
    let bytes: UnsafeRawBufferPointer
    var at: Int

    mutating func byte() -> UInt8? {
        guard at >= 0, at < bytes.count else { return nil }
        defer { at += 1 }
        return bytes[at]
    }

    /// A zigzag varint of at most 10 bytes (none of whose bits fall past 64); `minimal` is false
    /// when it ends in a redundant 0x00 group, the only way a varint can be longer than needed.
    mutating func varint() -> (value: Int64, size: Int, minimal: Bool)? {
        var raw: UInt64 = 0
        var shift: UInt64 = 0
        var size = 0
        while size < 10 {
            guard let b = byte() else { return nil }
            size += 1
            if shift == 63, b & 0x7E != 0 { return nil }  // bits past 64: malformed
            raw |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 {
                let value = Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
                return (value, size, size == 1 || b != 0)
            }
            shift += 7
        }
        return nil
    }

    /// Skips a length-prefixed field (-1 is null); nil when malformed.
    mutating func field() -> (offset: Int, length: Int64, minimal: Bool)? {
        guard let length = varint(), length.value >= -1, length.value <= Int64(Int32.max) else { return nil }
        let offset = at
        if length.value > 0 {
            guard Int64(bytes.count - at) >= length.value else { return nil }
            at += Int(length.value)
        }
        return (offset, length.value, length.minimal)
    }

    /// The next record, or nil when the rest is not a whole, well-formed record.
    mutating func record() -> DecodedRecord? {
        guard let length = varint(), length.value >= 0, Int64(bytes.count - at) >= length.value else { return nil }
        let end = at + Int(length.value)
        guard byte() != nil,  // attributes
            varint() != nil,  // timestampDelta
            varint() != nil,  // offsetDelta
            field() != nil,  // key
            let value = field(),
            let headerCount = varint(), headerCount.value >= 0, headerCount.value <= 1000
        else { return nil }
        for _ in 0..<headerCount.value {
            guard let key = field(), key.length >= 0, field() != nil else { return nil }
        }
        guard at == end else { return nil }
        return DecodedRecord(
            valueOffset: value.offset, valueLength: Int(value.length), valueLengthMinimal: value.minimal,
            headerCount: headerCount.value, headerCountSize: headerCount.size
        )
    }
}
