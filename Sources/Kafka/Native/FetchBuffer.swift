import KafkaProto

/// The messages of one fetch, handed out in order and each exactly once.
///
/// Messages are moved in when a fetch is converted and moved out when taken,
/// so handing one out costs no reference counting and no copy: the consumer's
/// hot path touches each message's storage once. A class, so that the owner's
/// accesses need no exclusivity checks at run time. Not thread-safe; its owner
/// guards it (``BrokerConsumer`` with its fetch lock).
final class FetchBuffer {
    private let storage: UnsafeMutablePointer<Message>
    private let capacity: Int
    /// Messages moved in by the current fill.
    private var count = 0
    /// The next message to hand out; `readIndex..<count` are initialized.
    private var readIndex = 0

    /// Creates an empty buffer with room for `capacity` messages, the most one fetch returns.
    init(capacity: Int) {
        self.capacity = capacity
        self.storage = .allocate(capacity: capacity)
    }

    deinit {
        (storage + readIndex).deinitialize(count: count - readIndex)
        storage.deallocate()
    }

    /// How many messages of the current fill were handed out.
    var handedOutCount: Int { readIndex }

    /// True when every message was handed out.
    var isEmpty: Bool { readIndex == count }

    /// Drops the messages not handed out yet (a rewind makes them wrong to hand out); the buffer is then ``isEmpty``.
    func discardRemaining() {
        (storage + readIndex).deinitialize(count: count - readIndex)
        count = readIndex
    }

    /// Starts a fill; call only when ``isEmpty``.
    func reset() {
        precondition(isEmpty, "FetchBuffer reset while messages remain")
        count = 0
        readIndex = 0
    }

    /// Builds the next message in place, after the others; at most `capacity` per fill.
    /// Building in place, rather than passing a finished message in, spares a copy of it.
    func append(
        key: consuming [UInt8]?, value: consuming [UInt8]?, headers: consuming [Header], timestamp: Int64?,
        topic: String, partition: Int32, offset: Int64, tipOffset: Int64
    ) {
        precondition(count < capacity, "FetchBuffer holds at most \(capacity) messages")
        (storage + count).initialize(to: Message.fetched(
            key: key, value: value, headers: headers, timestamp: timestamp,
            topic: topic, partition: partition, offset: offset, tipOffset: tipOffset
        ))
        count += 1
    }

    /// Moves the next message out; call only when not ``isEmpty``.
    func takeNext() -> Message {
        precondition(!isEmpty, "FetchBuffer is empty")
        defer { readIndex += 1 }
        return (storage + readIndex).move()
    }

    /// Moves every remaining message out, in order.
    func takeAll() -> [Message] {
        let remaining = count - readIndex
        let source = storage + readIndex
        readIndex = count
        return [Message](unsafeUninitializedCapacity: remaining) { destination, initialized in
            destination.baseAddress?.moveInitialize(from: source, count: remaining)
            initialized = remaining
        }
    }
}
