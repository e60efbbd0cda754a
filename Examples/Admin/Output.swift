import ExampleSupport
import Foundation
import Kafka

/// Prints results as text lines or one JSON document on standard output, and failed items as
/// one line each on standard error (counted, so the program can exit 1).
final class Output: @unchecked Sendable {
    // Safe: used by one command's task only, one call after another.
    let format: CommonOptions.Format
    private(set) var failures = 0

    init(format: CommonOptions.Format) {
        self.format = format
    }

    /// Prints `json` (as one JSON document) or `text` (one line each), per the chosen format.
    func emit(json: Any, text: [String]) {
        switch format {
        case .text:
            for line in text { print(line) }
        case .json:
            let data = (try? JSONSerialization.data(withJSONObject: Self.plain(json), options: [.sortedKeys, .prettyPrinted])) ?? Data("null".utf8)
            print(String(decoding: data, as: UTF8.self))
        }
    }

    /// Reports a failed item on standard error.
    func fail(_ item: String, _ error: Error) {
        failures += 1
        ExampleSupport.note("kafka-admin: \(item): \(error)")
    }

    /// Splits per-item outcomes into the successes (returned, in key order) and failures (reported).
    func sorted<Key: CustomStringConvertible, Value>(_ outcomes: [Key: Result<Value, KafkaError>]) -> [(Key, Value)] {
        var good: [(Key, Value)] = []
        for (key, outcome) in outcomes.sorted(by: { $0.key.description < $1.key.description }) {
            switch outcome {
            case .success(let value): good.append((key, value))
            case .failure(let error): fail(key.description, error)
            }
        }
        return good
    }

    /// What JSONSerialization takes: nil as NSNull, fixed-width integers as Int.
    private static func plain(_ value: Any) -> Any {
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional {
            guard let child = mirror.children.first else { return NSNull() }
            return plain(child.value)
        }
        switch value {
        case let dictionary as [String: Any]: return dictionary.mapValues(plain)
        case let array as [Any]: return array.map(plain)
        case let number as Int32: return Int(number)
        case let number as Int64: return Int(number)
        default: return value
        }
    }
}
