import Kafka
import Tracing

/// A `Consumer` (and `BatchConsumer` when its base is one) that traces what it
/// hands out and continues the producers' traces.
///
/// Each message (or batch) returned is one `receive <topic>` span of kind `.consumer`, a child
/// of the caller's task-local context, with a link to the creation context each message carries
/// in its headers (the producer's `send` span when it was produced with ``TracingProducer``).
/// The span starts when `consume()` is called and ends when it returns. A call that throws,
/// `KafkaError.noData` included, makes no span: a polling loop does not fill the trace with
/// empty receives.
///
/// To trace the processing of a message, wrap it in
/// ``withConsumeSpan(_:parent:_:)``: a `process <topic>` span that continues the producer's
/// trace (see ``ConsumeSpanParent``).
///
/// ```swift
/// let consumer = TracingConsumer(try broker.consumer(conf), consumerGroup: "billing")
/// for try await message in consumer {
///     try await consumer.withConsumeSpan(message) { span in
///         try await handle(message)          // spans started here are children of the process span
///     }
/// }
/// ```
public struct TracingConsumer<Base: Consumer>: Consumer, AsyncSequence {
    public typealias Element = Message

    /// The wrapped consumer, for what the `Consumer` protocol does not cover (such as `close`).
    public let base: Base
    /// The consumer group written as `messaging.consumer.group.name`, if any.
    public let consumerGroup: String?
    let backend: TracingBackend

    /// Wraps `base`.
    /// - Parameters:
    ///   - base: the consumer that reads.
    ///   - consumerGroup: the group for `messaging.consumer.group.name`. `nil` (the default) takes
    ///     a `GroupConsumer`'s own group and sets none for other consumers.
    ///   - tracer: the tracer that starts the spans and extracts the producers' contexts. `nil`
    ///     (the default) uses `InstrumentationSystem.tracer` for spans and
    ///     `InstrumentationSystem.instrument` to extract, read at each call.
    public init(_ base: Base, consumerGroup: String? = nil, tracer: (any Tracer)? = nil) {
        self.base = base
        self.consumerGroup = consumerGroup ?? (base as? GroupConsumer)?.conf.group
        self.backend = TracingBackend(explicitTracer: tracer)
    }

    public func consume() throws -> Message {
        guard let (tracer, propagator) = backend.resolve() else { return try base.consume() }
        let start = DefaultTracerClock.now
        let message = try base.consume()
        receiveSpan(tracer, propagator, [message], start: start)
        return message
    }

    nonisolated(nonsending) public func consume() async throws -> Message {
        guard let (tracer, propagator) = backend.resolve() else { return try await base.consume() }
        let start = DefaultTracerClock.now
        let message = try await base.consume()
        receiveSpan(tracer, propagator, [message], start: start)
        return message
    }

    public func makeAsyncIterator() -> ConsumerIterator<Self> {
        ConsumerIterator(self)
    }

    /// The creation context `message` carries in its headers, as the propagating instrument
    /// reads it; `nil` when the headers carry none.
    public func producerContext(of message: Message) -> InstrumentationContext? {
        guard let (_, propagator) = backend.resolve() else { return nil }
        return extractContext(propagator, message)
    }

    /// Starts a `receive` span at `start`, links it to each message's creation context and ends it.
    private func receiveSpan(_ tracer: any Tracer, _ propagator: any Instrument, _ messages: [Message], start: DefaultTracerClock.Timestamp) {
        guard let first = messages.first else { return }
        let topic = messages.allSatisfy({ $0.topic == first.topic }) ? first.topic : nil
        let span = tracer.startSpan(
            topic.map { "receive \($0)" } ?? "receive", context: .currentOrTopLevel, ofKind: .consumer, at: start
        )
        for message in messages {
            if let context = extractContext(propagator, message) {
                span.addLink(SpanLink(context: context, attributes: [:]))
            }
        }
        if span.isRecording {
            let partition = messages.allSatisfy({ $0.topic == first.topic && $0.partition == first.partition })
                ? first.partition : nil
            span.updateAttributes { attributes in
                consumerAttributes(&attributes, operation: "receive", topic: topic, partition: partition)
                if messages.count > 1 {
                    attributes[MessagingAttribute.batchMessageCount] = messages.count
                } else {
                    singleMessageAttributes(&attributes, first)
                }
            }
        }
        span.end()
    }

    fileprivate func consumerAttributes(_ attributes: inout SpanAttributes, operation: String, topic: String?, partition: Int32?) {
        KafkaTracing.consumerAttributes(&attributes, operation: operation, topic: topic, partition: partition, group: consumerGroup)
    }
}

/// The attributes of a consumer-side span.
func consumerAttributes(_ attributes: inout SpanAttributes, operation: String, topic: String?, partition: Int32?, group: String?) {
    attributes[MessagingAttribute.system] = "kafka"
    attributes[MessagingAttribute.operationType] = operation
    attributes[MessagingAttribute.operationName] = operation
    if let topic { attributes[MessagingAttribute.destinationName] = topic }
    if let partition, partition >= 0 { attributes[MessagingAttribute.partitionID] = String(partition) }
    if let group { attributes[MessagingAttribute.consumerGroup] = group }
}

extension TracingConsumer: BatchConsumer where Base: BatchConsumer {
    /// Returns the base's batch; one `receive` span for the whole batch, with
    /// `messaging.batch.message_count` when it has more than one message and a link to every
    /// message's creation context.
    public func consumeBatch() throws -> [Message] {
        guard let (tracer, propagator) = backend.resolve() else { return try base.consumeBatch() }
        let start = DefaultTracerClock.now
        let messages = try base.consumeBatch()
        receiveSpan(tracer, propagator, messages, start: start)
        return messages
    }

    nonisolated(nonsending) public func consumeBatch() async throws -> [Message] {
        guard let (tracer, propagator) = backend.resolve() else { return try await base.consumeBatch() }
        let start = DefaultTracerClock.now
        let messages = try await base.consumeBatch()
        receiveSpan(tracer, propagator, messages, start: start)
        return messages
    }
}

/// Where a `process` span made by ``TracingConsumer/withConsumeSpan(_:parent:_:)`` hangs.
///
/// Either way the span also links to the message's creation context, as OpenTelemetry's
/// messaging conventions ask of every `process` span.
public enum ConsumeSpanParent: Sendable {
    /// The producer's span, extracted from the headers, when the message carries one, so the
    /// processing continues the producer's trace (one trace from the request that produced to
    /// the work the message caused). A message without one falls back to ``current``. The default.
    case producer
    /// The caller's task-local context (say, a span around the consume loop); the producer's
    /// trace is reached through the link only.
    case current
}

extension TracingConsumer {
    /// Runs `body` inside a `process <topic>` span (kind `.consumer`) for `message`; the span's
    /// context is the task-local context while `body` runs, so spans started there are its
    /// children. A thrown error is recorded on the span (status error, `error.type`) and rethrown.
    ///
    /// - Parameters:
    ///   - message: a message this consumer returned.
    ///   - parent: where the span hangs; ``ConsumeSpanParent/producer`` by default.
    ///   - body: the processing; receives the span to add attributes or events to.
    public func withConsumeSpan<T>(
        _ message: Message, parent: ConsumeSpanParent = .producer, _ body: (any Span) throws -> T
    ) rethrows -> T {
        guard let (tracer, propagator) = backend.resolve() else {
            return try body(NoOpTracer.NoOpSpan(context: .currentOrTopLevel))
        }
        let span = startProcessSpan(tracer, propagator, message, parent: parent)
        defer { span.end() }
        do {
            return try InstrumentationContext.withValue(span.context) { try body(span) }
        } catch {
            span.fail(with: error)
            throw error
        }
    }

    /// The `async` twin of ``withConsumeSpan(_:parent:_:)``.
    public func withConsumeSpan<T>(
        _ message: Message, parent: ConsumeSpanParent = .producer,
        isolation: isolated (any Actor)? = #isolation, _ body: (any Span) async throws -> T
    ) async rethrows -> T {
        guard let (tracer, propagator) = backend.resolve() else {
            return try await body(NoOpTracer.NoOpSpan(context: .currentOrTopLevel))
        }
        let span = startProcessSpan(tracer, propagator, message, parent: parent)
        defer { span.end() }
        do {
            return try await InstrumentationContext.withValue(span.context, isolation: isolation) { try await body(span) }
        } catch {
            span.fail(with: error)
            throw error
        }
    }

    private func startProcessSpan(
        _ tracer: any Tracer, _ propagator: any Instrument, _ message: Message, parent: ConsumeSpanParent
    ) -> any Span {
        KafkaTracing.startProcessSpan(tracer, propagator, message, parent: parent, group: consumerGroup)
    }
}

/// Starts the `process <topic>` span of `message`: a child of the producer's context (or the
/// current one, per `parent`), linked to the producer's context.
func startProcessSpan(
    _ tracer: any Tracer, _ propagator: any Instrument, _ message: Message, parent: ConsumeSpanParent, group: String?
) -> any Span {
    let producer = extractContext(propagator, message)
    let context = parent == .producer ? (producer ?? .currentOrTopLevel) : .currentOrTopLevel
    let span = tracer.startSpan("process \(message.topic)", context: context, ofKind: .consumer)
    if let producer { span.addLink(SpanLink(context: producer, attributes: [:])) }
    if span.isRecording {
        span.updateAttributes { attributes in
            consumerAttributes(&attributes, operation: "process", topic: message.topic, partition: message.partition, group: group)
            singleMessageAttributes(&attributes, message)
        }
    }
    return span
}

/// Extracts the creation context from the headers into a top-level context; `nil` when nothing was found.
private func extractContext(_ propagator: any Instrument, _ message: Message) -> InstrumentationContext? {
    if message.headers.isEmpty { return nil }
    var context = InstrumentationContext.topLevel
    propagator.extract(message.headers, into: &context, using: HeaderExtractor())
    return context.isEmpty ? nil : context
}

private func singleMessageAttributes(_ attributes: inout SpanAttributes, _ message: Message) {
    if message.offset >= 0 { attributes[MessagingAttribute.offset] = message.offset }
    if message.value == nil { attributes[MessagingAttribute.tombstone] = true }
}
