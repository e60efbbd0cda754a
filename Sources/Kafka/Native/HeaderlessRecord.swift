import Crdkafka

/// True when a fetched record certainly has no headers, told without asking
/// librdkafka.
///
/// Why: librdkafka's `rd_kafka_message_headers` allocates a parse buffer
/// and a segment (two mallocs and two frees) before it reads the header
/// count, even when the count is zero, which is most records. That doubled
/// the allocations of a consumer and cost it about a fifth of its throughput.
///
/// How: in a v2 record (every Kafka since 0.11) the value is followed by the
/// header count, a zigzag varint, and preceded by the value's length, also a
/// zigzag varint; librdkafka's consumer hands out the value in place, inside
/// the fetched record (and so it parses the headers from the very next byte).
/// When the bytes just before a non-empty value are exactly the (minimal)
/// encoding of its length, the value lies in a v2 record and the byte just
/// after it is the header count; a zero there means no headers. A legacy
/// v0/v1 message cannot pass: its length is a 4-byte big-endian integer, whose
/// last bytes never equal the varint of the same non-zero length (the varint's
/// leading bytes have the high bit set, those of the integer cannot). Anything
/// else (a tombstone, whose value pointer is NULL, an empty value, any other
/// layout) answers false and the caller asks librdkafka as before.
///
/// The byte-level decision is ``RecordBytes/isHeaderless(_:valueOffset:valueLength:)``,
/// which never reads outside the window it is given (fuzzed in Fuzz/, property-tested in
/// HeaderlessRecordTests). What it cannot check is that the window itself is readable: the
/// up-to-5 bytes before `payload` and the byte at `payload + len` lie outside the payload
/// librdkafka hands out, and they are part of the fetched record only because of
/// librdkafka's private buffer layout. Hence ``HeaderPeek/isEnabled``.
@inline(__always)
func isHeaderless(_ record: UnsafeMutablePointer<rd_kafka_message_t>) -> Bool {
    guard HeaderPeek.isEnabled, let payload = record.pointee.payload else { return false }
    let length = record.pointee.len
    guard length > 0, let size = RecordBytes.lengthVarintSize(length) else { return false }
    // The window: the length varint, the value, and the header-count byte after it.
    let window = UnsafeRawBufferPointer(start: UnsafeRawPointer(payload) - size, count: size + length + 1)
    return RecordBytes.isHeaderless(window, valueOffset: size, valueLength: length)
}

/// Whether ``isHeaderless(_:)`` may peek at the bytes around a fetched value.
///
/// The peek reads memory that librdkafka does not promise: the bytes just before the payload
/// and the byte just after it. They belong to the fetched (possibly decompressed) record buffer
/// in the librdkafka versions this library is tested against at run time, and only those:
/// 2.0.x (Debian bookworm's 2.0.2, the default test run) and 2.16.x (the tansu run,
/// `make test-tansu`), where the message's value points into the record and `binhdrs` is
/// set from the bytes after it. Any other version, older or newer, may lay out (or copy)
/// values differently, so it gets the safe path, `rd_kafka_message_headers`: slower (two
/// allocations per record), never reading outside what librdkafka hands out.
enum HeaderPeek {
    /// Decided once, from the librdkafka loaded at run time (`rd_kafka_version()`).
    static let isEnabled = isSupported(versionNumber: Librdkafka.versionNumber)

    /// True for the runtime versions (librdkafka's 0xMMmmrrpp encoding) whose record layout
    /// was checked: 2.0.x (0x0200xxxx) and 2.16.x (0x0210xxxx).
    static func isSupported(versionNumber: Int) -> Bool {
        switch versionNumber & ~0xFFFF {
        case 0x0200_0000, 0x0210_0000: return true
        default: return false
        }
    }
}
