/// The codec a producer compresses message batches with. Consumers decode
/// every codec librdkafka was built with, whatever the producer chose.
public enum Compression: Int8, Sendable, Hashable, CaseIterable {
    /// No compression (the default, as Go's `CompressionNone`).
    case none = 0
    /// gzip (Go's `CompressionGzip`).
    case gzip = 1
    /// snappy (Go's `CompressionSnappy`).
    case snappy = 2
    /// LZ4 (not available in Go's optiopay/kafka).
    case lz4 = 3
    /// Zstandard (not available in Go's optiopay/kafka).
    case zstd = 4

    /// The name librdkafka's `compression.codec` property expects.
    public var librdkafkaName: String {
        switch self {
        case .none: "none"
        case .gzip: "gzip"
        case .snappy: "snappy"
        case .lz4: "lz4"
        case .zstd: "zstd"
        }
    }
}

/// How many replicas must acknowledge a produce before it counts as written.
public enum RequiredAcks: Sendable, Hashable {
    /// No acknowledgement: the broker sends no response (Go's `RequiredAcksNone`, 0).
    case none
    /// The partition leader only (Go's `RequiredAcksLocal`, 1).
    case local
    /// Every in-sync replica (Go's `RequiredAcksAll`, -1). The default.
    case all
    /// An explicit replica count greater than one, sent as-is.
    case count(Int16)

    /// The value sent on the wire and given to librdkafka's `request.required.acks`.
    public var rawValue: Int16 {
        switch self {
        case .none: 0
        case .local: 1
        case .all: -1
        case .count(let n): n
        }
    }

    /// Maps a wire value to a case: 0 none, 1 local, -1 all, anything else a count.
    public init(rawValue: Int16) {
        switch rawValue {
        case 0: self = .none
        case 1: self = .local
        case -1: self = .all
        default: self = .count(rawValue)
        }
    }
}

/// Where a consumer starts reading a partition.
public enum StartOffset: Sendable, Hashable {
    /// Only messages produced after the consumer was created (Go's `StartOffsetNewest`, -1).
    case newest
    /// The oldest message the partition still holds (Go's `StartOffsetOldest`, -2). The default.
    case oldest
    /// The message with exactly this offset (included).
    case offset(Int64)

    /// The Go constant: -1 newest, -2 oldest, otherwise the offset itself.
    public var goValue: Int64 {
        switch self {
        case .newest: -1
        case .oldest: -2
        case .offset(let value): value
        }
    }
}
