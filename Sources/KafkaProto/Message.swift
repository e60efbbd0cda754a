/// One Kafka record: what a producer sends and what a consumer returns.
///
/// `key` and `value` are optional byte arrays and `nil` stays distinct from an
/// empty array through a round trip (a `nil` value is a tombstone). Go's
/// optiopay/kafka merged the two on decode; this library does not.
///
/// Producing ignores `topic`, `partition`, `offset`, `crc` and `tipOffset`;
/// the producer fills them in on the caller's copy once the broker has
/// acknowledged the message. Consumers fill every field.
public struct Message: Sendable, Hashable {
    /// The record key, or `nil` for a record without one. Default `nil`.
    public var key: [UInt8]?
    /// The record value, or `nil` for a tombstone. Default `nil`.
    public var value: [UInt8]?
    /// Record headers in wire order. Default empty.
    public var headers: [Header]
    /// Create or log-append time in milliseconds since the Unix epoch, or `nil`
    /// when unknown. Default `nil` (the client stamps the current time).
    public var timestamp: Int64?
    /// The topic the record belongs to. Set by produce and consume.
    public var topic: String
    /// The partition the record belongs to. Set by produce and consume; -1 until then.
    public var partition: Int32
    /// The record's offset in its partition; -1 until known.
    public var offset: Int64
    /// CRC-32 (IEEE) of the record encoded as an uncompressed v0 message, as
    /// Go's `proto.ComputeCrc` computes it. 0 unless filled by ``computeCRC()``
    /// or by a mock, since modern batches carry one CRC-32C for the whole batch.
    public var crc: UInt32
    /// The partition's high watermark when the record was fetched (Go's `TipOffset`); -1 when unknown.
    public var tipOffset: Int64
}

extension Message {
    /// Creates a message to produce.
    /// - Parameters:
    ///   - key: record key, `nil` (the default) for none.
    ///   - value: record value, `nil` (the default) for a tombstone.
    ///   - headers: record headers, empty by default.
    ///   - timestamp: milliseconds since the Unix epoch, `nil` (the default) for "now".
    public init(key: [UInt8]? = nil, value: [UInt8]? = nil, headers: [Header] = [], timestamp: Int64? = nil) {
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
        self.topic = ""
        self.partition = -1
        self.offset = -1
        self.crc = 0
        self.tipOffset = -1
    }

    /// A fetched record with every field known, built in one step: what the consumers of this
    /// package build once per record. It uses the compiler's memberwise initializer (the
    /// reason the public initializers live in this extension), which writes the fields
    /// straight into the caller's buffer; an explicit initializer built a temporary and
    /// copied it, a retain and a release of every field per record.
    package static func fetched(
        key: consuming [UInt8]?, value: consuming [UInt8]?, headers: consuming [Header], timestamp: Int64?,
        topic: consuming String, partition: Int32, offset: Int64, tipOffset: Int64
    ) -> Message {
        Message(
            key: key, value: value, headers: headers, timestamp: timestamp,
            topic: topic, partition: partition, offset: offset, crc: 0, tipOffset: tipOffset
        )
    }

    /// Creates a message with UTF-8 text as key and value, a convenience for tests and examples.
    public init(key: String? = nil, value: String?, headers: [Header] = []) {
        self.init(key: key.map { Array($0.utf8) }, value: value.map { Array($0.utf8) }, headers: headers)
    }
}

/// One record header: a UTF-8 name and an optional byte value (`nil` is distinct from empty).
public struct Header: Sendable, Hashable {
    /// The header name.
    public var key: String
    /// The header value; `nil` for a header without value.
    public var value: [UInt8]?

    /// Creates a header.
    public init(key: String, value: [UInt8]?) {
        self.key = key
        self.value = value
    }
}
