/// A Kafka protocol error code as a broker sends it.
///
/// Every code librdkafka 2.0.2 knows (-1 and 1 through 97) has a named
/// constant with its Go-style name (`.unknownTopicOrPartition`), a text and a
/// retriability flag. Codes from newer brokers still round-trip: they get the
/// name `"unknown<code>"` and are treated as not retriable.
public struct ErrorCode: RawRepresentable, Sendable, Hashable, Error, CustomStringConvertible {
    /// The code on the wire.
    public let rawValue: Int16

    /// Wraps any wire code, known or not. Code 0 means "no error" and is
    /// never thrown, but wrapping it is allowed.
    public init(rawValue: Int16) {
        self.rawValue = rawValue
    }

    struct Info {
        let name: String
        let text: String
        let isRetriable: Bool
    }

    /// The Go-style name without the `Err` prefix, e.g. `"unknownTopicOrPartition"`.
    public var name: String {
        Self.table[rawValue]?.name ?? "unknown\(rawValue)"
    }

    /// A human-readable description, e.g. `"Unknown topic or partition"`.
    public var text: String {
        Self.table[rawValue]?.text ?? "unknown Kafka error \(rawValue)"
    }

    /// Whether Kafka documents the error as transient, so that the same
    /// request may succeed when retried (leader changes, timeouts, ...).
    public var isRetriable: Bool {
        Self.table[rawValue]?.isRetriable ?? false
    }

    /// Whether this code is one librdkafka 2.0.2 knows by name.
    public var isKnown: Bool {
        Self.table[rawValue] != nil
    }

    /// Every named code, ordered by value.
    public static var allKnown: [ErrorCode] {
        table.keys.sorted().map(ErrorCode.init(rawValue:))
    }

    /// `"<text> (<code>)"`, the shape of Go's `KafkaError.Error()`.
    public var description: String {
        "\(text) (\(rawValue))"
    }
}
