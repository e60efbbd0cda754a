// The pure byte-level part of the header-count fast path (see HeaderlessRecord.swift).
// Deliberately imports nothing (not even Crdkafka or Foundation): Fuzz/run.sh compiles this
// file on its own into a libFuzzer harness, and the property tests call it on plain buffers.

/// Reading the bytes around a record's value in Kafka's v2 record format.
///
/// A v2 record (Kafka 0.11 and later) reads, in order: length, attributes, timestampDelta,
/// offsetDelta, keyLength, key, valueLength, value, headerCount, headers; every length and
/// count is a zigzag varint (`-1` for a null key or value). So the value is preceded by its
/// length varint and followed by the header-count varint.
enum RecordBytes {
    /// The largest value length the fast path considers (Kafka lengths are `Int32`).
    static let maxValueLength = Int(Int32.max)

    /// The size in bytes (1...5 for `0...Int32.max`) of the minimal zigzag varint of `length`,
    /// or nil when `length` is negative or above `Int32.max`.
    @inline(__always)
    static func lengthVarintSize(_ length: Int) -> Int? {
        guard length >= 0, length <= maxValueLength else { return nil }
        var rest = (UInt64(length) << 1) >> 7
        var size = 1
        while rest != 0 {
            size += 1
            rest >>= 7
        }
        return size
    }

    /// True when the value occupying `valueOffset ..< valueOffset + valueLength` of `bytes`
    /// certainly lies in a v2 record without headers: the bytes just before it are exactly the
    /// minimal zigzag varint of `valueLength` (which rules out a legacy v0/v1 message, whose
    /// length is a 4-byte big-endian integer) and the byte just after it is 0 (a header count
    /// of zero). False in every other case, including a null (`valueLength < 0`) or empty value,
    /// and whenever a byte it would need lies outside `bytes`.
    ///
    /// Reads at most `lengthVarintSize(valueLength)` bytes before the value and one byte after
    /// it, and never a byte outside `bytes`, whatever the arguments (offsets that are negative,
    /// past the end, or that would overflow answer false).
    @inline(__always)
    static func isHeaderless(_ bytes: UnsafeRawBufferPointer, valueOffset: Int, valueLength: Int) -> Bool {
        guard valueLength > 0, let size = lengthVarintSize(valueLength) else { return false }
        // valueLength <= Int32.max, so these cannot overflow once valueOffset is within 0...count.
        guard valueOffset >= size, valueOffset <= bytes.count, valueLength < bytes.count - valueOffset else {
            return false
        }
        var remaining = UInt64(valueLength) << 1
        for index in 0..<size {
            let expected = UInt8(truncatingIfNeeded: remaining & 0x7F) | (index < size - 1 ? 0x80 : 0)
            if bytes[valueOffset - size + index] != expected { return false }
            remaining >>= 7
        }
        return bytes[valueOffset + valueLength] == 0
    }
}
