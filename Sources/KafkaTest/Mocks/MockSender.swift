import Foundation
import Kafka
import Synchronization

/// An in-memory `RecordSender` made by ``MockBroker/sender(_:)``, with a `Sender`'s rules:
/// keyed records placed by `SenderConf.keyPlacement`, keyless ones sticky per topic, bad records
/// refused at once with the real client's errors, a bounded queue that waits or fails
/// (`SenderConf.whenFull`), failures to `SenderConf.onFailure`, close fails what is in flight.
///
/// Records are appended to the broker's logs and their receipts resolved at once, unless
/// ``holdsDeliveries`` is set: then they wait, counting against `SenderConf.maxBufferedMessages`,
/// until ``deliverHeld()`` or ``failHeld(with:)``, so tests can see receipts in flight,
/// back-pressure and failures of receipts nobody awaits.
public final class MockSender: RecordSender {
    /// The configuration it was made with.
    public let conf: SenderConf
    let state: MockState

    private struct Held {
        let message: Message
        let topic: String
        let partition: Int32
        let receipt: DeliveryReceipt
    }

    private struct Queue {
        var holds = false
        var held: [Held] = []
        var closed = false
        var sticky: [String: (partition: Int32, until: ContinuousClock.Instant)] = [:]
        /// `async` sends waiting for room, resumed when some is made or at close.
        var roomWaiters: [UInt64: CheckedContinuation<Void, any Error>] = [:]
        var nextWaiter: UInt64 = 0
    }

    private let queue = Mutex(Queue())
    /// Signalled when room appears or the sender closes, for blocking sends and flushes.
    private let changed = NSCondition()

    /// librdkafka's default `message.max.bytes`, the real client's limit for one record.
    public static let maxRecordBytes = 1_000_000

    init(state: MockState, conf: SenderConf) {
        self.state = state
        self.conf = conf
    }

    /// When true, sent records wait (in flight) until ``deliverHeld()`` or ``failHeld(with:)``. Default false.
    public var holdsDeliveries: Bool {
        get { queue.withLock { $0.holds } }
        set { queue.withLock { $0.holds = newValue } }
    }

    /// How many records wait in flight.
    public var inFlight: Int { queue.withLock { $0.held.count } }

    /// Hands `message` over, with a `Sender`'s checks and placement; see `Sender.send(_:to:partition:)`.
    @discardableResult
    public func send(_ message: Message, to topic: String, partition: Int32? = nil) throws -> DeliveryReceipt {
        let target = try place(message, topic, partition)
        while true {
            switch try enqueue(message, topic, target) {
            case .done(let receipt): return receipt
            case .full:
                changed.lock()
                if queue.withLock({ $0.held.count >= conf.maxBufferedMessages && !$0.closed }) { changed.wait() }
                changed.unlock()
            }
        }
    }

    /// The `async` twin: waits for room by suspending; `CancellationError` when cancelled while waiting.
    @discardableResult
    public func send(_ message: Message, to topic: String, partition: Int32? = nil) async throws -> DeliveryReceipt {
        let target = try place(message, topic, partition)
        while true {
            switch try enqueue(message, topic, target) {
            case .done(let receipt): return receipt
            case .full: try await waitForRoom()
            }
        }
    }

    /// Appends every held record to its log and resolves its receipt; returns how many.
    @discardableResult
    public func deliverHeld() -> Int {
        let held = takeHeld()
        for record in held { deliver(record) }
        return held.count
    }

    /// Fails every held record's receipt with `error` (and tells `SenderConf.onFailure`); returns how many.
    @discardableResult
    public func failHeld(with error: KafkaError) -> Int {
        let held = takeHeld()
        for record in held { fail(record, error) }
        return held.count
    }

    /// Waits up to `timeout` until no record is held; returns how many still are.
    @discardableResult
    public func flush(timeout: Duration) -> Int {
        let deadline = Date(timeIntervalSinceNow: Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18)
        changed.lock()
        defer { changed.unlock() }
        while queue.withLock({ !$0.held.isEmpty && !$0.closed }) {
            if !changed.wait(until: deadline) { break }
        }
        return inFlight
    }

    /// Fails held records with `KafkaError.closed`; later sends throw it. Idempotent.
    public func close() {
        let (held, waiters) = queue.withLock { queue in
            queue.closed = true
            defer {
                queue.held.removeAll()
                queue.roomWaiters.removeAll()
            }
            return (queue.held, Array(queue.roomWaiters.values))
        }
        for record in held { fail(record, .closed) }
        for waiter in waiters { waiter.resume(throwing: KafkaError.closed) }
        wakeWaiters()
    }

    // MARK: - Internals

    private enum Enqueued {
        case done(DeliveryReceipt)
        case full
    }

    private func enqueue(_ message: Message, _ topic: String, _ partition: Int32) throws -> Enqueued {
        enum Decision { case deliverNow, held, full }
        let receipt = DeliveryReceipt(topic: topic, partition: partition)
        let decision = try queue.withLock { queue throws(KafkaError) -> Decision in
            if queue.closed { throw .closed }
            guard queue.holds else { return .deliverNow }
            guard queue.held.count < conf.maxBufferedMessages else { return .full }
            queue.held.append(Held(message: message, topic: topic, partition: partition, receipt: receipt))
            return .held
        }
        switch decision {
        case .deliverNow:
            deliver(Held(message: message, topic: topic, partition: partition, receipt: receipt))
            return .done(receipt)
        case .held:
            return .done(receipt)
        case .full:
            if conf.whenFull == .fail {
                throw KafkaError.local(
                    code: -184, message: "the sender's queue is full (\(conf.maxBufferedMessages) records in flight); \(topic)/\(partition) was not sent"
                )
            }
            return .full
        }
    }

    /// Wakes blocking sends and flushes to look again; under the condition's lock, so a waiter
    /// between its check and its wait cannot miss it.
    private func wakeWaiters() {
        changed.lock()
        changed.broadcast()
        changed.unlock()
    }

    private func takeHeld() -> [Held] {
        let held = queue.withLock { queue in
            defer { queue.held.removeAll() }
            return queue.held
        }
        let waiters = queue.withLock { queue in
            defer { queue.roomWaiters.removeAll() }
            return Array(queue.roomWaiters.values)
        }
        for waiter in waiters { waiter.resume() }
        wakeWaiters()
        return held
    }

    private func deliver(_ record: Held) {
        do {
            let stamped = try state.locked { () throws(KafkaError) -> [Message] in
                try state.checkOpen()
                try state.requirePartition(record.topic, record.partition)
                return state.append(record.topic, record.partition, [record.message])
            }
            record.receipt.resolve(.success(Delivery(topic: record.topic, partition: record.partition, offset: stamped[0].offset)))
        } catch {
            fail(record, error)
        }
    }

    private func fail(_ record: Held, _ error: KafkaError) {
        guard record.receipt.resolve(.failure(error)) else { return }
        conf.onFailure?(DeliveryFailure(topic: record.topic, partition: record.partition, error: error))
    }

    private func waitForRoom() async throws {
        let id = queue.withLock { queue -> UInt64 in
            queue.nextWaiter &+= 1
            return queue.nextWaiter
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let early: Result<Void, any Error>? = queue.withLock { queue in
                    if queue.closed { return .failure(KafkaError.closed) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if queue.held.count < conf.maxBufferedMessages || !queue.holds { return .success(()) }
                    queue.roomWaiters[id] = continuation
                    return nil
                }
                if let early { continuation.resume(with: early) }
            }
        } onCancel: {
            queue.withLock { $0.roomWaiters.removeValue(forKey: id) }?.resume(throwing: CancellationError())
        }
    }

    /// The partition of `message`, checked as a ``Sender`` checks it.
    private func place(_ message: Message, _ topic: String, _ partition: Int32?) throws -> Int32 {
        var size = (message.key?.count ?? 0) + (message.value?.count ?? 0)
        for header in message.headers {
            if header.key.utf8.contains(0) {
                throw KafkaError.invalidArgument("the record for \(topic) has a header name containing a NUL byte, which Kafka clients read as its end; it was not sent")
            }
            size += header.key.utf8.count + (header.value?.count ?? 0)
        }
        if size > Self.maxRecordBytes {
            throw KafkaError.broker(.messageSizeTooLarge, message: "the record for \(topic) is \(size) bytes; the producer's message.max.bytes is \(Self.maxRecordBytes); it was not sent")
        }
        let partitions = try state.locked { () throws(KafkaError) -> Int32 in
            try state.checkOpen()
            try state.requirePartition(topic, partition ?? 0)
            return Int32(state.logs[topic]?.count ?? 0)
        }
        if let partition { return partition }
        if let key = message.key { return conf.keyPlacement.partition(of: key, partitions: partitions) }
        let now = ContinuousClock.now
        return queue.withLock { queue in
            if let current = queue.sticky[topic], now < current.until { return current.partition }
            let chosen = Int32.random(in: 0..<max(1, partitions))
            queue.sticky[topic] = (chosen, now + conf.stickyWindow)
            return chosen
        }
    }
}
