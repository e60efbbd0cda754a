import Kafka
import KafkaTest
import Testing
import KafkaTestSupport

// The Swift block of Kafka.docc/ConcurrentProcessing.md, verbatim: compiled against a real
// broker, and run against the in-memory one.

func docProcessing(broker: Broker, ledger: Ledger) async throws {
    var processing = ProcessingConf()
    processing.concurrency = 64
    processing.failure = .retry(attempts: 5, backoff: .milliseconds(200), then: .deadLetter(topic: "orders.dlq"))
    let loop = try ProcessingLoop(broker: broker, group: GroupConsumerConf(group: "billing", topics: ["orders"]),
                                  conf: processing) { message in
        try await ledger.apply(message)
    }
    try await loop.run()   // until its task is cancelled: running handlers finish, then it commits
}

func docProcessing(broker: MockBroker, ledger: Ledger) async throws {
    var processing = ProcessingConf()
    processing.concurrency = 64
    processing.failure = .retry(attempts: 5, backoff: .milliseconds(200), then: .deadLetter(topic: "orders.dlq"))
    let loop = try ProcessingLoop(broker: broker, group: GroupConsumerConf(group: "billing", topics: ["orders"]),
                                  conf: processing) { message in
        try await ledger.apply(message)
    }
    try await loop.run()   // until its task is cancelled: running handlers finish, then it commits
}

@Suite("Documentation snippets: concurrent processing", .ownThreads)
struct ConcurrentProcessingSnippetTests {
    @Test func runsInMemoryUntilCancelled() async throws {
        let broker = MockBroker(topics: ["orders": 2, "orders.dlq": 1])
        let producer = try broker.producer()
        for partition in Int32(0)..<2 {
            try await producer.produce("orders", partition: partition, messages: (0..<10).map { Message(key: "k\($0 % 3)", value: "v\($0)") })
        }
        let ledger = Ledger()
        let running = Task { try await docProcessing(broker: broker, ledger: ledger) }
        let handled = await eventuallyTrue(within: .seconds(30)) { await ledger.count == 20 }
        running.cancel()
        try await running.value
        #expect(handled)
    }
}
