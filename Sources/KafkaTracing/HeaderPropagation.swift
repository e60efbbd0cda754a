import Kafka
import Tracing

/// Writes trace propagation fields into a message's record headers, for
/// `Instrument.inject(_:into:using:)`.
///
/// A header with the same key is replaced (first occurrence; later duplicates are removed), so
/// re-publishing a consumed message does not carry two `traceparent` headers. Values are
/// written as UTF-8. Kafka header keys are case-sensitive and so is this injector.
public struct HeaderInjector: Injector {
    public typealias Carrier = [Header]

    public init() {}

    public func inject(_ value: String, forKey key: String, into carrier: inout [Header]) {
        let bytes = Array(value.utf8)
        guard let first = carrier.firstIndex(where: { $0.key == key }) else {
            carrier.append(Header(key: key, value: bytes))
            return
        }
        carrier[first].value = bytes
        var index = carrier.index(after: first)
        while index < carrier.endIndex {
            if carrier[index].key == key { carrier.remove(at: index) } else { index += 1 }
        }
    }
}

/// Reads trace propagation fields from a message's record headers, for
/// `Instrument.extract(_:into:using:)`.
///
/// Returns the first header with exactly `key` whose value is valid UTF-8; a header without a
/// value reads as the empty string.
public struct HeaderExtractor: Extractor {
    public typealias Carrier = [Header]

    public init() {}

    public func extract(key: String, from carrier: [Header]) -> String? {
        for header in carrier where header.key == key {
            guard let value = header.value else { return "" }
            if let text = String(validating: value, as: UTF8.self) { return text }
        }
        return nil
    }
}
