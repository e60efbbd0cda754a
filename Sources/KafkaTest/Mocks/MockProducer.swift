import Foundation
import Kafka
import Synchronization

/// An in-memory producer made by ``MockBroker/producer(_:)``.
///
/// Appends to the broker's partition logs and returns the base offset;
/// messages come back stamped with topic, partition, offset and Go's v0 CRC.
/// Each call is also queued for ``MockBroker/readProducers(timeout:)-3i9hn``.
public final class MockProducer: Producer {
    /// How offsets are assigned.
    public enum OffsetMode: Sendable {
        /// The partition log decides: the offset each message gets in it (like a real broker). The default.
        case log
        /// Go kafkatest's counter: per producer, starting at `first`, growing by each call's message count,
        /// whatever the topic and partition. Messages are still appended to the logs.
        case counter(first: Int64)
    }

    let state: MockState
    /// The configuration the producer was created with (recorded, not interpreted).
    public let conf: ProducerConf
    private let settings = Mutex<(error: KafkaError?, mode: OffsetMode, next: Int64)>((nil, .log, 0))
    private let expectations = Mutex<ProduceExpectations?>(nil)

    /// Turns on expectation mode for this producer and returns the expectations to fill:
    /// from now on every call is checked against them (see ``ProduceExpectations``).
    public func expectations(_ configure: (ProduceExpectations) -> Void = { _ in }) -> ProduceExpectations {
        let created = ProduceExpectations()
        configure(created)
        expectations.withLock { $0 = created }
        return created
    }

    init(state: MockState, conf: ProducerConf) {
        self.state = state
        self.conf = conf
    }

    /// When set, every produce call throws it and writes nothing (Go's `ResponseError`). Default `nil`.
    public var responseError: KafkaError? {
        get { settings.withLock { $0.error } }
        set { settings.withLock { $0.error = newValue } }
    }

    /// How this producer numbers offsets. Default ``OffsetMode/log``.
    public var offsetMode: OffsetMode {
        get { settings.withLock { $0.mode } }
        set {
            settings.withLock {
                $0.mode = newValue
                if case .counter(let first) = newValue { $0.next = first }
            }
        }
    }

    /// Appends `messages` to `topic`/`partition` and returns the first one's offset.
    /// - Throws: ``responseError`` when set; `KafkaError.closed` after the broker closed;
    ///   `KafkaError.invalidArgument(_:)` for no messages; `unknownTopicOrPartition`.
    @discardableResult
    public func produce(_ topic: String, partition: Int32, messages: inout [Message]) throws -> Int64 {
        let (error, mode) = settings.withLock { ($0.error, $0.mode) }
        if let error { throw error }
        if let expected = expectations.withLock({ $0 }), let failure = expected.check(topic: topic) { throw failure }
        guard !messages.isEmpty else { throw KafkaError.invalidArgument("no messages to produce to \(topic)/\(partition)") }
        let pending = messages
        var stamped = try state.locked { () throws(KafkaError) -> [Message] in
            try state.checkOpen()
            try state.requirePartition(topic, partition)
            return state.append(topic, partition, pending)
        }
        if case .counter = mode {
            let count = Int64(stamped.count)
            let first = settings.withLock { settings in
                let first = settings.next
                settings.next += count
                return first
            }
            for index in stamped.indices { stamped[index].offset = first + Int64(index) }
        }
        state.locked {
            state.produced.append(ProducedMessages(topic: topic, partition: partition, messages: stamped))
            state.condition.broadcast()
        }
        messages = stamped
        return stamped[0].offset
    }

    /// The `async` twin of ``produce(_:partition:messages:)-7a5ap``; never suspends for long.
    @discardableResult
    public func produce(_ topic: String, partition: Int32, messages: inout [Message]) async throws -> Int64 {
        var copy = messages
        let offset = try { () throws -> Int64 in try self.produce(topic, partition: partition, messages: &copy) }()
        messages = copy
        return offset
    }
}
