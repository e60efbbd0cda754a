import Kafka
import Tracing

/// One `process <topic>` span per message a `ProcessingLoop` handles, as
/// ``TracingConsumer/withConsumeSpan(_:parent:isolation:_:)`` makes: a child of the producer's
/// trace (or the current context, per ``ConsumeSpanParent``), linked to it, with the consumer
/// group, topic, partition and offset; a handler error is recorded on the span and rethrown.
///
/// ```swift
/// let spans = ProcessingSpans(consumerGroup: "billing")
/// let loop = try ProcessingLoop(broker: broker, group: conf, handler: spans.wrap { message in
///     try await ledger.apply(message)        // spans started here are children of the process span
/// })
/// ```
public struct ProcessingSpans: Sendable {
    /// The group written as `messaging.consumer.group.name`, if any.
    public let consumerGroup: String?
    /// Where each span hangs. Default ``ConsumeSpanParent/producer``.
    public let parent: ConsumeSpanParent
    let backend: TracingBackend

    /// Spans for `consumerGroup`'s messages, started with `tracer` (default nil: the installed
    /// `InstrumentationSystem.tracer`, read at each message).
    public init(consumerGroup: String?, parent: ConsumeSpanParent = .producer, tracer: (any Tracer)? = nil) {
        self.consumerGroup = consumerGroup
        self.parent = parent
        self.backend = TracingBackend(explicitTracer: tracer)
    }

    /// `handler`, each call of it inside the message's `process` span.
    public func wrap(_ handler: @escaping @Sendable (Message) async throws -> Void) -> @Sendable (Message) async throws -> Void {
        let backend = backend
        let parent = parent
        let group = consumerGroup
        return { message in
            guard let (tracer, propagator) = backend.resolve() else { return try await handler(message) }
            let span = startProcessSpan(tracer, propagator, message, parent: parent, group: group)
            defer { span.end() }
            do {
                try await InstrumentationContext.withValue(span.context) { try await handler(message) }
            } catch {
                span.fail(with: error)
                throw error
            }
        }
    }
}
