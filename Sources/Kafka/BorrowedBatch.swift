/// One fetched message whose key and value are views into librdkafka's fetch buffer: no copy,
/// no allocation. Valid only inside the closure of ``BrokerConsumer/withBorrowedBatch(_:)`` or
/// ``GroupConsumer/withBorrowedBatch(_:)``;
/// copy what must outlive it (``owned(topic:)`` makes a `Message`).
public struct BorrowedMessage {
    /// The key's bytes, nil for a null key.
    public let key: UnsafeRawBufferPointer?
    /// The value's bytes, nil for a null value (a tombstone).
    public let value: UnsafeRawBufferPointer?
    /// The partition it was read from.
    public let partition: Int32
    /// Its offset in the partition.
    public let offset: Int64
    /// Its timestamp in milliseconds since 1970, when the record has one.
    public let timestamp: Int64?

    /// Creates a view; used by the consumer and by test doubles.
    public init(key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer?, partition: Int32, offset: Int64, timestamp: Int64?) {
        self.key = key
        self.value = value
        self.partition = partition
        self.offset = offset
        self.timestamp = timestamp
    }

    /// A copy as an owned `Message` of `topic` (headers are not read on the borrowing path).
    public func owned(topic: String) -> Message {
        var message = Message(key: key.map { Array($0) }, value: value.map { Array($0) })
        message.topic = topic
        message.partition = partition
        message.offset = offset
        message.timestamp = timestamp
        return message
    }
}

/// The messages of one fetch as ``BorrowedMessage`` views, in partition order. Valid only
/// inside the closure it is passed to.
public struct BorrowedBatch: RandomAccessCollection {
    /// The topic every message was read from.
    public let topic: String
    private let messages: UnsafeBufferPointer<BorrowedMessage>

    init(topic: String, messages: UnsafeBufferPointer<BorrowedMessage>) {
        self.topic = topic
        self.messages = messages
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { messages.count }
    public subscript(position: Int) -> BorrowedMessage { messages[position] }
}

extension BorrowedBatch {
    /// Runs `body` over one owned message (of `message.topic`) as a borrowed batch of one: what
    /// a borrowing read hands over first when ``BrokerConsumer/consume()`` or
    /// ``GroupConsumer/consume()`` had already fetched messages.
    static func borrowing<R>(_ message: Message, _ body: (BorrowedBatch) throws -> R) throws -> R {
        func view(_ bytes: [UInt8]?, _ use: (UnsafeRawBufferPointer?) throws -> R) rethrows -> R {
            guard let bytes else { return try use(nil) }
            return try bytes.withUnsafeBytes { try use($0) }
        }
        return try view(message.key) { key in
            try view(message.value) { value in
                var borrowed = BorrowedMessage(key: key, value: value, partition: message.partition, offset: message.offset, timestamp: message.timestamp)
                return try withUnsafePointer(to: &borrowed) { pointer in
                    try body(BorrowedBatch(topic: message.topic, messages: UnsafeBufferPointer(start: pointer, count: 1)))
                }
            }
        }
    }
}
