import Foundation
import Kafka
import KafkaTest
import KafkaTestSupport

typealias TestCluster = IntegrationCluster

func values(_ range: Range<Int>, prefix: String = "m") -> [Message] {
    range.map { Message(key: "k\($0)", value: "\(prefix)\($0)") }
}

extension Message {
    var text: String? { value.map { String(decoding: $0, as: UTF8.self) } }
}

/// Runs a blocking call on a thread of its own and suspends until it returns.
///
/// Blocking calls must not run in a `Task`: on a two-core machine the
/// cooperative pool has two threads, and two blocked calls waiting for a
/// third task (the one that closes the broker) would never be woken.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
