import Kafka
import Tracing

/// A `RecordSender` (a `Sender`, or KafkaTest's `MockSender`) that traces every send and
/// propagates the trace to consumers in the record's headers, as ``TracingProducer`` does.
///
/// Each send is one span of kind `.producer`, named `send <topic>`, a child of the caller's
/// task-local context; it covers the hand-over (placement and enqueue), and carries the
/// partition chosen. The delivery itself is reported later through the receipt, not by the span.
///
/// ```swift
/// let sender = TracingSender(try broker.sender())
/// let receipt = try await sender.send(Message(key: "user-1", value: "signed up"), to: "events", partition: nil)
/// ```
public struct TracingSender<Base: RecordSender>: RecordSender {
    /// The wrapped sender.
    public let base: Base
    let backend: TracingBackend

    /// Wraps `base`; `tracer` as in ``TracingProducer/init(_:tracer:)``.
    public init(_ base: Base, tracer: (any Tracer)? = nil) {
        self.base = base
        self.backend = TracingBackend(explicitTracer: tracer)
    }

    @discardableResult
    public func send(_ message: Message, to topic: String, partition: Int32?) throws -> DeliveryReceipt {
        guard let (tracer, propagator) = backend.resolve() else { return try base.send(message, to: topic, partition: partition) }
        var traced = [message]
        let span = startSendSpan(tracer, propagator, topic, partition: partition, messages: &traced)
        defer { span.end() }
        do {
            let receipt = try base.send(traced[0], to: topic, partition: partition)
            span.recordPlacement(receipt.partition)
            return receipt
        } catch {
            span.fail(with: error)
            throw error
        }
    }

    @discardableResult
    public func send(_ message: Message, to topic: String, partition: Int32?) async throws -> DeliveryReceipt {
        guard let (tracer, propagator) = backend.resolve() else { return try await base.send(message, to: topic, partition: partition) }
        var traced = [message]
        let span = startSendSpan(tracer, propagator, topic, partition: partition, messages: &traced)
        defer { span.end() }
        do {
            let receipt = try await base.send(traced[0], to: topic, partition: partition)
            span.recordPlacement(receipt.partition)
            return receipt
        } catch {
            span.fail(with: error)
            throw error
        }
    }

    @discardableResult
    public func flush(timeout: Duration) -> Int {
        base.flush(timeout: timeout)
    }

    public func close() {
        base.close()
    }
}

extension Span {
    /// The partition the sender placed the record on.
    fileprivate func recordPlacement(_ partition: Int32) {
        guard isRecording, partition >= 0 else { return }
        updateAttributes { $0[MessagingAttribute.partitionID] = String(partition) }
    }
}
