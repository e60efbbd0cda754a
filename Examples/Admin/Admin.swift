import ArgumentParser
import ExampleSupport
import Foundation
import Kafka
import KafkaEmbedded

/// Administers a Kafka cluster in the style of Kafka's own tools and kcat: topics, settings,
/// consumer groups and their offsets, the cluster.
@main
struct Admin: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka-admin",
        abstract: "Administer a Kafka cluster: topics, configs, consumer groups, offsets.",
        discussion: "Without --brokers, an embedded cluster is started (topic \"example\", 4 partitions) and the command runs against it.",
        subcommands: [Topics.self, Configs.self, Groups.self, ClusterCommand.self]
    )
}

/// Options every command takes.
struct CommonOptions: ParsableArguments {
    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Option(help: "Comma-separated host:port list; without it an embedded cluster is started.") var brokers: String?
    @OptionGroup(title: "TLS and SASL") var security: SecurityOptions
    @Option(help: "Output: text (one line per item) or json.") var format: Format = .text
    @Option(help: "How long each request waits for the cluster, in milliseconds.") var timeout = 30_000

    func validate() throws {
        guard (1...3_600_000).contains(timeout) else { throw ValidationError("--timeout must be 1 to 3600000 ms") }
    }

    /// Runs `body` with an admin client over the chosen cluster; any error is one line on
    /// standard error and exit status 1.
    func run(_ body: @escaping (KafkaAdmin, Output) async throws -> Void) async {
        await ExampleSupport.run("kafka-admin") {
            var embedded: MockCluster?
            let addresses = try ExampleSupport.addresses(brokers: brokers, topic: "example", partitions: 4, program: "kafka-admin", embedded: &embedded)
            let broker = try ExampleSupport.dial(addresses, clientID: "kafka-admin", security: security)
            defer { broker.close() }
            let output = Output(format: format)
            try await body(KafkaAdmin(broker, timeout: .milliseconds(timeout)), output)
            withExtendedLifetime(embedded) {}
            // Each failed item already has its line on standard error.
            if output.failures > 0 { Foundation.exit(1) }
        }
    }
}

/// `kafka-admin cluster`: the cluster id, controller and brokers.
struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cluster", abstract: "Describe the cluster: id, controller, brokers.")
    @OptionGroup var common: CommonOptions

    func run() async throws {
        await common.run { admin, output in
            let cluster = try await admin.cluster()
            output.emit(
                json: [
                    "cluster_id": cluster.clusterID as Any, "controller": cluster.controllerID as Any,
                    "brokers": cluster.brokers.map { ["id": $0.id, "host": $0.host, "port": $0.port] },
                ],
                text: ["cluster \(cluster.clusterID ?? "-") controller \(cluster.controllerID.map(String.init) ?? "-")"]
                    + cluster.brokers.map { "broker \($0.id) \($0.host):\($0.port)" }
            )
        }
    }
}
