/// Why a transactional call failed, classified as librdkafka classifies it, so that a `catch`
/// can choose the one right reaction: ``KafkaError/transaction(_:)`` carries it.
public struct TransactionFailure: Sendable, Hashable, CustomStringConvertible {
    /// What the caller may do after the failure.
    public enum Kind: String, Sendable, Hashable {
        /// The producer is unusable from now on (typically fenced: a newer instance with the same
        /// transactional id started). Close it; a new producer with the same id may take over.
        case fatal
        /// The open transaction cannot commit: abort it, rewind the inputs to their committed
        /// offsets, and run the transaction again.
        case abortable
        /// The same call may be made again (a timeout, a coordinator not available yet); the
        /// transaction is still open.
        case retriable
    }

    /// What the caller may do now.
    public var kind: Kind
    /// The call that failed, e.g. `"commitTransaction"`.
    public var operation: String
    /// librdkafka's error, with its code (``KafkaError/broker(_:message:)`` or ``KafkaError/local(code:message:)``).
    public var cause: KafkaError

    /// A failure of `operation` of the given kind, caused by `cause`.
    public init(kind: Kind, operation: String, cause: KafkaError) {
        self.kind = kind
        self.operation = operation
        self.cause = cause
    }

    /// One sentence: what failed, why, and what to do.
    public var description: String {
        switch kind {
        case .fatal:
            "\(operation) failed fatally (\(cause)); the transactional producer is unusable: close it and make a new one"
        case .abortable:
            "\(operation) failed (\(cause)); the transaction must be aborted, then it may be run again"
        case .retriable:
            "\(operation) failed (\(cause)); the call may be made again"
        }
    }
}
