import ArgumentParser
import ExampleSupport
import Foundation
import Kafka
import KafkaEmbedded

/// Serves an embedded Kafka-compatible cluster until interrupted: a development
/// broker with no Java and no Docker, for any client.
@main
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka-serve",
        abstract: "Serve an embedded Kafka cluster (librdkafka's mock) on loopback until interrupted."
    )

    @Option(help: "Number of brokers.") var brokers = 1
    @Option(name: .customLong("topic"), help: "Topic to create, as name or name:partitions; repeatable.") var topics: [String] = []
    @Option(help: "Also write the bootstrap address to this file (for scripts).") var addressFile: String?
    @Option(help: "Also accept bootstrap connections on this fixed loopback port (the brokers' own ports are random).") var port: UInt16?
    @Option(help: "Stop by itself after this many seconds (0: run until interrupted).") var seconds = 0

    func validate() throws {
        guard (1...9).contains(brokers) else { throw ValidationError("--brokers must be between 1 and 9") }
        guard seconds >= 0 else { throw ValidationError("--seconds must not be negative") }
    }

    func run() async throws {
        await ExampleSupport.run("kafka-serve") {
            let cluster = try MockCluster(brokers: brokers)
            defer { cluster.close() }
            for spec in topics {
                let parts = spec.split(separator: ":")
                guard let name = parts.first, parts.count <= 2, let count = parts.count == 2 ? Int(parts[1]) : 1, count >= 1 else {
                    throw KafkaError.invalidArgument("--topic \(spec): use name or name:partitions")
                }
                try cluster.createTopic(String(name), partitions: count, replicationFactor: min(brokers, 3))
            }
            let forwarder = try port.map { try BootstrapForwarder(port: $0, target: cluster.addresses[0]) }
            defer { forwarder?.close() }
            let bootstrap = port.map { "127.0.0.1:\($0)" } ?? cluster.bootstrapServers
            if let addressFile {
                try bootstrap.write(toFile: addressFile, atomically: true, encoding: .utf8)
            }
            let banner = "kafka-serve: \(brokers) broker(s) at \(bootstrap)"
                + (topics.isEmpty ? "" : ", topics \(topics.joined(separator: " "))") + "\n"
            FileHandle.standardOutput.write(Data(banner.utf8))
            let (signals, continuation) = AsyncStream<Void>.makeStream()
            signal(SIGINT, SIG_IGN)
            signal(SIGTERM, SIG_IGN)
            let sources = [SIGINT, SIGTERM].map { number in
                let source = DispatchSource.makeSignalSource(signal: number)
                source.setEventHandler { continuation.finish() }
                source.resume()
                return source
            }
            defer { sources.forEach { $0.cancel() } }
            if seconds > 0 {
                // Stop by itself after --seconds, or earlier on SIGINT/SIGTERM.
                Task {
                    try? await Task.sleep(for: .seconds(seconds))
                    continuation.finish()
                }
            }
            for await _ in signals {}
            ExampleSupport.note("kafka-serve: stopping")
        }
    }
}

