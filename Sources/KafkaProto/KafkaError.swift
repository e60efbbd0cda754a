/// Every error this library throws.
///
/// Match the Go sentinels by case: `catch KafkaError.noData`,
/// `catch KafkaError.closed`, `catch KafkaError.mxClosed`, and broker codes
/// with `catch KafkaError.broker(.unknownTopicOrPartition, _)`.
///
/// This type lives in `KafkaProto` (not `Kafka`) so that the in-memory test
/// doubles and the pure-Swift partitioners throw the very same values as the
/// librdkafka-backed client.
public enum KafkaError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The broker, or the producer, consumer or coordinator made from it, was
    /// closed. Go's `ErrClosed`. Unlike Go, close is final.
    case closed
    /// A consumer with a retry limit saw no data for that many waits. Go's `ErrNoData`.
    case noData
    /// The multiplexer was closed, or closed itself when its last consumer
    /// ended. Go's `ErrMxClosed`, distinct from ``closed``.
    case mxClosed
    /// The broker answered with a Kafka protocol error; `message` carries
    /// librdkafka's text where it gave one.
    case broker(ErrorCode, message: String)
    /// librdkafka failed locally (transport, timeout, purge, ...); `code` is its
    /// negative `rd_kafka_resp_err_t` and `message` its name and text.
    case local(code: Int32, message: String)
    /// A call was given a value it cannot act on; the message says which and why.
    case invalidArgument(String)
    /// A configuration field or librdkafka property was rejected; the message
    /// carries librdkafka's own text where it came from there.
    case invalidConfiguration(String)
    /// A bounded wait ran out (the test doubles' `readProducers(timeout:)`, Go kafkatest's `ErrTimeout`).
    case timeout(String)
    /// A transactional call failed; ``TransactionFailure/kind`` says whether the producer is
    /// unusable (fatal), the transaction must be aborted (abortable), or the call may be repeated
    /// (retriable). Its ``TransactionFailure/cause`` carries librdkafka's code.
    indirect case transaction(TransactionFailure)

    /// The broker error code, when this is a broker error (or a transaction failure caused by one).
    public var errorCode: ErrorCode? {
        if case .broker(let code, _) = self { return code }
        if case .transaction(let failure) = self { return failure.cause.errorCode }
        return nil
    }

    /// The kind of transaction failure, when this is one: `catch let error as KafkaError where
    /// error.transactionFailureKind == .abortable`.
    public var transactionFailureKind: TransactionFailure.Kind? {
        if case .transaction(let failure) = self { return failure.kind }
        return nil
    }

    /// A one-line description a person can act on.
    public var description: String {
        switch self {
        case .closed: "closed"
        case .noData: "no data"
        case .mxClosed: "closed (multiplexer)"
        case .broker(let code, let message):
            message.isEmpty || message == code.text
                ? "\(code.text) (\(code.rawValue) \(code.name))"
                : "\(code.text) (\(code.rawValue) \(code.name)): \(message)"
        case .local(let code, let message): "\(message) (local error \(code))"
        case .invalidArgument(let message): "invalid argument: \(message)"
        case .invalidConfiguration(let message): "invalid configuration: \(message)"
        case .timeout(let message): "timeout: \(message)"
        case .transaction(let failure): failure.description
        }
    }
}
