import Kafka
import Tracing

/// The OpenTelemetry messaging semantic-convention names (1.27 and later) this module writes.
public enum MessagingAttribute {
    /// `messaging.system`: always `kafka`.
    public static let system = "messaging.system"
    /// `messaging.operation.type`: `send`, `receive` or `process`.
    public static let operationType = "messaging.operation.type"
    /// `messaging.operation.name`: the operation as this client names it (`send`, `receive`, `process`).
    public static let operationName = "messaging.operation.name"
    /// `messaging.destination.name`: the topic.
    public static let destinationName = "messaging.destination.name"
    /// `messaging.destination.partition.id`: the partition, as a string.
    public static let partitionID = "messaging.destination.partition.id"
    /// `messaging.batch.message_count`: set only when an operation has more than one message.
    public static let batchMessageCount = "messaging.batch.message_count"
    /// `messaging.kafka.offset`: the (first) message's offset, when known.
    public static let offset = "messaging.kafka.offset"
    /// `messaging.kafka.message.tombstone`: set (to `true`) only for a message without value.
    public static let tombstone = "messaging.kafka.message.tombstone"
    /// `messaging.consumer.group.name`: the consumer group, when the consumer was given one.
    public static let consumerGroup = "messaging.consumer.group.name"
    /// `error.type`: a low-cardinality name of the error that failed the operation.
    public static let errorType = "error.type"
}

/// The tracer and the propagating instrument a wrapper uses for one call.
struct TracingBackend: Sendable {
    /// `nil`: the installed ones (`InstrumentationSystem.tracer` and `.instrument`), read at each call.
    let explicitTracer: (any Tracer)?

    /// The tracer and the instrument to inject and extract with, or `nil` when tracing is off
    /// (a `NoOpTracer` and no propagating instrument): then the wrapper only forwards.
    @inline(__always)
    func resolve() -> (tracer: any Tracer, propagator: any Instrument)? {
        if let tracer = explicitTracer {
            return tracer is NoOpTracer ? nil : (tracer, tracer)
        }
        // The tracer is found inside the instrument: a no-op instrument means a no-op tracer.
        let instrument = InstrumentationSystem.instrument
        if instrument is NoOpInstrument || instrument is NoOpTracer { return nil }
        return (InstrumentationSystem.tracer, instrument)
    }
}

extension InstrumentationContext {
    /// The caller's context: the task-local one, or top level.
    static var currentOrTopLevel: InstrumentationContext { .current ?? .topLevel }
}

/// A low-cardinality name for `error.type`.
func errorType(_ error: any Error) -> String {
    guard let kafka = error as? KafkaError else { return String(describing: type(of: error)) }
    switch kafka {
    case .closed: return "closed"
    case .noData: return "noData"
    case .mxClosed: return "mxClosed"
    case .broker(let code, _): return code.name
    case .local: return "local"
    case .invalidArgument: return "invalidArgument"
    case .invalidConfiguration: return "invalidConfiguration"
    case .timeout: return "timeout"
    case .transaction(let failure): return "transaction.\(failure.kind.rawValue)"
    }
}

extension Span {
    /// Marks the span failed with `error`.
    func fail(with error: any Error) {
        recordError(error)
        setStatus(SpanStatus(code: .error))
        if isRecording { attributes[MessagingAttribute.errorType] = errorType(error) }
    }
}
