import Kafka
import Tracing

/// A `Producer` that traces every produce call and propagates the trace to consumers
/// in the messages' headers.
///
/// Each call is one span of kind `.producer`, named `send <topic>` after OpenTelemetry's
/// messaging conventions, a child of the caller's task-local context. Its context is injected
/// into every message's headers before the base producer sees them, so the messages carry the
/// send span as their creation context. The header keys are the propagating instrument's: the
/// W3C propagator of swift-otel writes `traceparent` (and `tracestate`), other instruments their
/// own. A failed produce records the error on the span, sets its status to error and
/// `error.type`, and rethrows.
///
/// ```swift
/// let producer = TracingProducer(try broker.producer())
/// try await producer.produce("orders", partition: 0, messages: [Message(value: "o-1")])
/// ```
///
/// Tracing is off, and the wrapper only forwards, when the tracer is the `NoOpTracer` and no
/// propagating instrument is installed.
public struct TracingProducer<Base: Producer>: Producer {
    /// The wrapped producer, for what the `Producer` protocol does not cover (such as `close`).
    public let base: Base
    let backend: TracingBackend

    /// Wraps `base`.
    /// - Parameters:
    ///   - base: the producer that writes.
    ///   - tracer: the tracer that starts the spans and injects their context. `nil` (the
    ///     default) uses `InstrumentationSystem.tracer` for spans and
    ///     `InstrumentationSystem.instrument` to inject, read at each call, so a bootstrap after
    ///     this wrapper was made and `withTracer` scopes take effect.
    public init(_ base: Base, tracer: (any Tracer)? = nil) {
        self.base = base
        self.backend = TracingBackend(explicitTracer: tracer)
    }

    @discardableResult
    public func produce(_ topic: String, partition: Int32, messages: inout [Message]) throws -> Int64 {
        guard let (tracer, propagator) = backend.resolve() else {
            return try base.produce(topic, partition: partition, messages: &messages)
        }
        let span = startSendSpan(tracer, propagator, topic, partition: partition, messages: &messages)
        defer { span.end() }
        do {
            let first = try base.produce(topic, partition: partition, messages: &messages)
            span.recordSent(topic: topic, partition: partition, firstOffset: first)
            return first
        } catch {
            span.fail(with: error)
            throw error
        }
    }

    @discardableResult
    public func produce(_ topic: String, partition: Int32, messages: inout [Message]) async throws -> Int64 {
        guard let (tracer, propagator) = backend.resolve() else {
            return try await base.produce(topic, partition: partition, messages: &messages)
        }
        let span = startSendSpan(tracer, propagator, topic, partition: partition, messages: &messages)
        defer { span.end() }
        do {
            let first = try await base.produce(topic, partition: partition, messages: &messages)
            span.recordSent(topic: topic, partition: partition, firstOffset: first)
            return first
        } catch {
            span.fail(with: error)
            throw error
        }
    }
}

/// A `DistributingProducer` that traces every call as ``TracingProducer`` does; the
/// partition attribute is set once the base has chosen it.
///
/// Wrap the distributing producer (`TracingDistributingProducer(HashProducer(...))`), not the
/// producer inside it, for one span per call.
public struct TracingDistributingProducer<Base: DistributingProducer>: DistributingProducer {
    /// The wrapped distributing producer.
    public let base: Base
    let backend: TracingBackend

    /// Wraps `base`; `tracer` as in ``TracingProducer/init(_:tracer:)``.
    public init(_ base: Base, tracer: (any Tracer)? = nil) {
        self.base = base
        self.backend = TracingBackend(explicitTracer: tracer)
    }

    @discardableResult
    public func distribute(_ topic: String, messages: inout [Message]) throws -> Int64 {
        guard let (tracer, propagator) = backend.resolve() else {
            return try base.distribute(topic, messages: &messages)
        }
        let span = startSendSpan(tracer, propagator, topic, partition: nil, messages: &messages)
        defer { span.end() }
        do {
            let first = try base.distribute(topic, messages: &messages)
            span.recordSent(topic: topic, partition: messages.first?.partition, firstOffset: first)
            return first
        } catch {
            span.fail(with: error)
            throw error
        }
    }

    @discardableResult
    public func distribute(_ topic: String, messages: inout [Message]) async throws -> Int64 {
        guard let (tracer, propagator) = backend.resolve() else {
            return try await base.distribute(topic, messages: &messages)
        }
        let span = startSendSpan(tracer, propagator, topic, partition: nil, messages: &messages)
        defer { span.end() }
        do {
            let first = try await base.distribute(topic, messages: &messages)
            span.recordSent(topic: topic, partition: messages.first?.partition, firstOffset: first)
            return first
        } catch {
            span.fail(with: error)
            throw error
        }
    }
}

/// Starts the `send <topic>` span under the caller's context and injects its context into every message
/// (used by every tracing producer of this module).
func startSendSpan(
    _ tracer: any Tracer, _ propagator: any Instrument, _ topic: String, partition: Int32?, messages: inout [Message]
) -> any Span {
    let span = tracer.startSpan("send \(topic)", context: .currentOrTopLevel, ofKind: .producer)
    if span.isRecording {
        span.updateAttributes { attributes in
            attributes[MessagingAttribute.system] = "kafka"
            attributes[MessagingAttribute.operationType] = "send"
            attributes[MessagingAttribute.operationName] = "send"
            attributes[MessagingAttribute.destinationName] = topic
            if let partition, partition >= 0 { attributes[MessagingAttribute.partitionID] = String(partition) }
            if messages.count > 1 { attributes[MessagingAttribute.batchMessageCount] = messages.count }
            if messages.count == 1, messages[0].value == nil { attributes[MessagingAttribute.tombstone] = true }
        }
    }
    let context = span.context
    let injector = HeaderInjector()
    for index in messages.indices {
        propagator.inject(context, into: &messages[index].headers, using: injector)
    }
    return span
}

extension Span {
    /// What is known once the broker acknowledged: the partition chosen and the first offset.
    fileprivate func recordSent(topic: String, partition: Int32?, firstOffset: Int64) {
        guard isRecording else { return }
        updateAttributes { attributes in
            if let partition, partition >= 0 { attributes[MessagingAttribute.partitionID] = String(partition) }
            if firstOffset >= 0 { attributes[MessagingAttribute.offset] = firstOffset }
        }
    }
}
