import Foundation
import Kafka
import Logging
import ServiceLifecycle
import Synchronization

// What the documentation's snippets assume exists: the service's own types and functions,
// kept as small as the snippets need. Nothing here is documentation itself.

/// An order, as the producing snippets send it.
struct Order: Sendable {
    let customerID: String
    let json: String
}

/// The service state a processing handler writes to.
actor Ledger {
    private(set) var applied: [Message] = []

    func apply(_ message: Message) async throws {
        applied.append(message)
    }

    var count: Int { applied.count }
}

/// What a rebalance hook flushes and loads; the snippets only call them.
func flushState(for partitions: [TopicPartition]) throws {}
func loadState(for partitions: [TopicPartition]) {}

/// The handler of the group-consumer snippets.
func handle(_ message: Message) async throws {}

/// The result the exactly-once snippet writes for an input.
func invoice(for input: Message) -> Message {
    Message(key: input.key, value: input.value)
}

/// The tracing snippet's processing step.
func bill(_ message: Message) async throws {}

/// An OAUTHBEARER token, as a token provider would fetch it.
func fetchToken() throws -> String { "token" }

/// The processing service of the service-lifecycle snippet.
struct OrderProcessor: Service {
    let consumer: GroupConsumer
    let producer: BrokerProducer

    func run() async throws {
        for try await message in consumer.cancelOnGracefulShutdown() {
            try await producer.produce("invoices", partition: message.partition, messages: [invoice(for: message)])
            try await consumer.commit(message)
        }
    }
}

/// A time for the offset-reset snippets.
let tenOClockYesterday = Date(timeIntervalSinceNow: -86_400)

/// Whether `condition` held within `limit`, checked every 10 ms.
func eventuallyTrue(within limit: Duration, _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return await condition()
}
