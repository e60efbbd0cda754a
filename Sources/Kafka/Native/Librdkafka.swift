import Crdkafka

/// Facts about the librdkafka library this process runs against.
public enum Librdkafka {
    /// The runtime version string, e.g. `"2.0.2"`.
    public static var version: String { String(cString: rd_kafka_version_str()) }

    /// The runtime version as librdkafka encodes it: 0xMMmmrrpp.
    public static var versionNumber: Int { Int(rd_kafka_version()) }

    /// True when the runtime librdkafka is older than 2.2.0, whose ApiVersion
    /// handling mis-skips tagged fields, so that some newer Kafka-compatible
    /// brokers (e.g. tansu) fail with "ApiVersionRequest failed: Local: Read underflow".
    public static var hasTaggedFieldBug: Bool { versionNumber < 0x0202_0000 }

    /// The explanation appended to connection errors that look like that bug.
    static var taggedFieldBugHint: String {
        "librdkafka \(version) is older than 2.2.0 and mis-reads tagged fields in broker responses "
            + "(\"Read underflow\" on ApiVersion); this broker needs librdkafka >= 2.2.0 at run time"
    }
}

extension KafkaError {
    /// Maps a librdkafka error code to the library's error: Kafka protocol
    /// codes (-1 and positive) become `KafkaError.broker(_:message:)`,
    /// librdkafka's local codes (below -1) `KafkaError.local(code:message:)`.
    init(_ code: rd_kafka_resp_err_t, detail: String? = nil) {
        let raw = code.rawValue
        // librdkafka's texts start with "Broker: " or "Local: ", which a reader does not need;
        // a detail that only repeats the code's own text is dropped (the description has it).
        let text = Self.withoutOrigin(String(cString: rd_kafka_err2str(code)))
        let extra = detail.map(Self.withoutOrigin).flatMap { $0.isEmpty || $0 == text ? nil : $0 }
        if raw == -1 || raw > 0 {
            self = .broker(ErrorCode(rawValue: Int16(clamping: raw)), message: extra ?? "")
        } else {
            self = .local(code: raw, message: extra.map { "\(text): \($0)" } ?? text)
        }
    }

    private static func withoutOrigin(_ text: String) -> String {
        for prefix in ["Broker: ", "Local: "] where text.hasPrefix(prefix) { return String(text.dropFirst(prefix.count)) }
        return text
    }

    /// True for the local error `code`.
    func isLocal(_ code: Int32) -> Bool {
        if case .local(code, _) = self { return true }
        return false
    }

    var isTransient: Bool {
        switch self {
        case .broker(let code, _): return code.isRetriable
        case .local(let code, _):
            return [
                RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT,
                RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, RD_KAFKA_RESP_ERR__WAIT_COORD, RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE,
                RD_KAFKA_RESP_ERR__RESOLVE, RD_KAFKA_RESP_ERR__NODE_UPDATE,
            ].contains { $0.rawValue == code }
        default: return false
        }
    }
}
