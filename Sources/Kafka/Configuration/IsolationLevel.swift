/// Which messages of transactional producers a consumer reads (librdkafka's `isolation.level`).
public enum IsolationLevel: String, Sendable, Hashable, CaseIterable {
    /// Only messages of committed transactions (and every non-transactional message); the
    /// consumer stops before the first message of a transaction still open, until it ends.
    /// librdkafka's default, and the default here.
    case readCommitted = "read_committed"
    /// Every message, also of transactions aborted or still open.
    case readUncommitted = "read_uncommitted"
}
