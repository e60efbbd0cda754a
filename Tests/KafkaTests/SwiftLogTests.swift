import Kafka
import KafkaTest
import Logging
import Synchronization
import Testing
import KafkaTestSupport

/// A swift-log handler that keeps what it is given.
struct CollectingHandler: LogHandler {
    final class Store: Sendable {
        let lines = Mutex<[(Logger.Level, String, Logger.Metadata)]>([])
    }
    let store: Store
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        store.lines.withLock { $0.append((event.level, "\(event.message)", event.metadata ?? [:])) }
    }
}

@Suite("swift-log", .ownThreads)
struct SwiftLogTests {
    @Test("a swift-log Logger is a configuration's logger directly; filtered levels are dropped, fields become metadata")
    func loggerDirectly() throws {
        let store = CollectingHandler.Store()
        var logger = Logger(label: "kafka") { _ in CollectingHandler(store: store) }
        logger.logLevel = .info
        try withMockCluster(brokers: 1) { cluster in
            var conf = BrokerConf(clientID: "logged")
            conf.logger = logger
            conf.properties["debug"] = "broker"  // librdkafka's debug lines: filtered out at .info
            let broker = try Broker.dial(cluster.addresses, conf: conf)
            broker.close()
        }
        let lines = store.lines.withLock { $0 }
        #expect(!lines.contains { $0.0 == .debug })
        logger.error("boom", [("topic", "t")])
        #expect(store.lines.withLock { $0.last.map { $0.1 == "boom" && $0.2["topic"] == "t" } } == true)
    }
}
