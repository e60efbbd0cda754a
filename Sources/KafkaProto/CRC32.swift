/// CRC-32 with the IEEE polynomial (reflected 0xEDB88320), the checksum of
/// Kafka's v0/v1 message format and of Go's `hash/crc32.ChecksumIEEE`.
public enum CRC32 {
    private static let table: [UInt32] = (0..<256).map { index in
        var crc = UInt32(index)
        for _ in 0..<8 {
            crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1
        }
        return crc
    }

    /// Returns the CRC-32 (IEEE) of `bytes`, continuing from `crc` (0 to start).
    public static func checksum<Bytes: Sequence>(_ bytes: Bytes, continuing crc: UInt32 = 0) -> UInt32
    where Bytes.Element == UInt8 {
        var value = ~crc
        for byte in bytes {
            value = table[Int((value ^ UInt32(byte)) & 0xFF)] ^ (value >> 8)
        }
        return ~value
    }
}

extension Message {
    /// The v0 message body the CRC covers: magic 0, attributes 0, then key and
    /// value each as a big-endian int32 length (-1 for `nil`) and the bytes.
    /// Headers and timestamp do not exist in v0 and are not covered.
    public func v0Body() -> [UInt8] {
        var body: [UInt8] = [0, 0]
        body.reserveCapacity(10 + (key?.count ?? 0) + (value?.count ?? 0))
        Self.appendBytes(key, to: &body)
        Self.appendBytes(value, to: &body)
        return body
    }

    /// The CRC-32 (IEEE) of this message encoded as an uncompressed v0 message,
    /// exactly as Go's `proto.ComputeCrc(msg, CompressionNone)` computes it.
    public func computeCRC() -> UInt32 {
        CRC32.checksum(v0Body())
    }

    private static func appendBytes(_ bytes: [UInt8]?, to body: inout [UInt8]) {
        guard let bytes else {
            body.append(contentsOf: [0xFF, 0xFF, 0xFF, 0xFF])
            return
        }
        let length = UInt32(truncatingIfNeeded: bytes.count)
        body.append(UInt8(truncatingIfNeeded: length >> 24))
        body.append(UInt8(truncatingIfNeeded: length >> 16))
        body.append(UInt8(truncatingIfNeeded: length >> 8))
        body.append(UInt8(truncatingIfNeeded: length))
        body.append(contentsOf: bytes)
    }
}
