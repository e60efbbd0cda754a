import Logging

/// The logging interface of Go's `kafka.Logger`: four levels, a message and
/// key/value fields. Named `KafkaLogger` so that it does not clash with
/// swift-log's `Logger`, which conforms to it: configurations take a `Logger` directly.
///
/// librdkafka's own log lines reach the broker's logger with their syslog
/// level mapped (0-3 error, 4 warn, 5-6 info, 7 debug) and the field
/// `facility`.
public protocol KafkaLogger: Sendable {
    /// Logs a debug line: retries, evictions, librdkafka debug output.
    func debug(_ message: String, _ fields: [(String, String)])
    /// Logs an informational line.
    func info(_ message: String, _ fields: [(String, String)])
    /// Logs a warning.
    func warn(_ message: String, _ fields: [(String, String)])
    /// Logs an error.
    func error(_ message: String, _ fields: [(String, String)])
}

/// Discards every line; the default logger of ``BrokerConf``, as Go's null logger.
public struct NullKafkaLogger: KafkaLogger {
    /// Creates a logger that discards everything.
    public init() {}
    public func debug(_ message: String, _ fields: [(String, String)]) {}
    public func info(_ message: String, _ fields: [(String, String)]) {}
    public func warn(_ message: String, _ fields: [(String, String)]) {}
    public func error(_ message: String, _ fields: [(String, String)]) {}
}

/// Sends lines to a swift-log `Logger`, fields as metadata. A `Logger` is a ``KafkaLogger``
/// itself, so this wrapper is only needed by code written against it before.
public struct SwiftLogKafkaLogger: KafkaLogger {
    /// The swift-log logger lines go to.
    public let logger: Logging.Logger

    /// Wraps `logger`.
    public init(_ logger: Logging.Logger) {
        self.logger = logger
    }

    public func debug(_ message: String, _ fields: [(String, String)]) { log(.debug, message, fields) }
    public func info(_ message: String, _ fields: [(String, String)]) { log(.info, message, fields) }
    public func warn(_ message: String, _ fields: [(String, String)]) { log(.warning, message, fields) }
    public func error(_ message: String, _ fields: [(String, String)]) { log(.error, message, fields) }

    private func log(_ level: Logging.Logger.Level, _ message: String, _ fields: [(String, String)]) {
        guard logger.logLevel <= level else { return }
        var metadata = Logging.Logger.Metadata()
        for (key, value) in fields { metadata[key] = .string(value) }
        logger.log(level: level, "\(message)", metadata: metadata)
    }
}

/// A swift-log `Logger` is a ``KafkaLogger`` itself, so configurations take one directly:
/// `conf.logger = Logger(label: "kafka")`. Fields become metadata; a line whose level the
/// logger filters out builds no metadata and no message.
extension Logging.Logger: KafkaLogger {
    public func debug(_ message: String, _ fields: [(String, String)]) { log(.debug, message, fields) }
    public func info(_ message: String, _ fields: [(String, String)]) { log(.info, message, fields) }
    public func warn(_ message: String, _ fields: [(String, String)]) { log(.warning, message, fields) }
    public func error(_ message: String, _ fields: [(String, String)]) { log(.error, message, fields) }

    private func log(_ level: Logging.Logger.Level, _ message: String, _ fields: [(String, String)]) {
        guard logLevel <= level else { return }
        var metadata = Logging.Logger.Metadata()
        for (key, value) in fields { metadata[key] = .string(value) }
        log(level: level, "\(message)", metadata: metadata)
    }
}
