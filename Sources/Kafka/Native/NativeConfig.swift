import Crdkafka

/// Owns an `rd_kafka_conf_t` until librdkafka takes it in `rd_kafka_new`.
final class NativeConfig {
    private(set) var pointer: OpaquePointer?

    init() {
        pointer = rd_kafka_conf_new()
    }

    deinit {
        if let pointer { rd_kafka_conf_destroy(pointer) }
    }

    /// Sets one property; throws librdkafka's own text for an unknown key or bad value.
    func set(_ key: String, _ value: String) throws(KafkaError) {
        guard let pointer else { return }
        var errorText = [CChar](repeating: 0, count: 512)
        let result = rd_kafka_conf_set(pointer, key, value, &errorText, errorText.count)
        guard result == RD_KAFKA_CONF_OK else {
            var text = String(decoding: errorText.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            // An unknown key may be a misspelt secret ("sasl.pasword"): its value is never shown.
            guard result != RD_KAFKA_CONF_UNKNOWN, !PropertyRedaction.isSecret(key) else {
                if !value.isEmpty { text = text.replacingEvery(value, with: PropertyRedaction.mask) }
                throw .invalidConfiguration("librdkafka property \(key) (value not shown): \(text)")
            }
            throw .invalidConfiguration("librdkafka property \(key)=\"\(value)\": \(text)")
        }
    }

    /// Sets every property in `properties`, in key order so errors are deterministic.
    func set(_ properties: [String: String]) throws(KafkaError) {
        for key in properties.keys.sorted() {
            try set(key, properties[key] ?? "")
        }
    }

    /// Reads back a property's current value, or `nil` when unknown.
    func get(_ key: String) -> String? {
        guard let pointer else { return nil }
        var size = 0
        guard rd_kafka_conf_get(pointer, key, nil, &size) == RD_KAFKA_CONF_OK, size > 0 else { return nil }
        var buffer = [CChar](repeating: 0, count: size)
        guard rd_kafka_conf_get(pointer, key, &buffer, &size) == RD_KAFKA_CONF_OK else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Hands the configuration to librdkafka; from now on it owns it.
    func release() -> OpaquePointer? {
        defer { pointer = nil }
        return pointer
    }
}
