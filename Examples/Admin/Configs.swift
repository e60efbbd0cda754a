import ArgumentParser
import Kafka

/// `kafka-admin configs describe|alter`.
struct Configs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "configs", abstract: "Describe and change topic and broker settings.",
        subcommands: [Describe.self, Alter.self]
    )

    /// Which resource a configs command is about.
    struct Target: ParsableArguments {
        @Option(help: "A topic.") var topic: String?
        @Option(help: "A broker, by node id.") var broker: Int32?

        func validate() throws {
            guard (topic == nil) != (broker == nil) else { throw ValidationError("give exactly one of --topic and --broker") }
        }

        var resource: ConfigResource {
            if let topic { return .topic(topic) }
            return .broker(broker ?? -1)
        }
    }

    struct Describe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show every setting of a topic or broker, with its source.")
        @OptionGroup var common: CommonOptions
        @OptionGroup var target: Target

        func run() async throws {
            await common.run { admin, output in
                let described = output.sorted(try await admin.describeConfigs([target.resource]))
                let entries = described.flatMap { $0.1.values }.sorted { $0.name < $1.name }
                output.emit(
                    json: entries.map {
                        ["name": $0.name, "value": $0.value as Any, "source": "\($0.source)", "default": $0.isDefault, "read_only": $0.isReadOnly, "sensitive": $0.isSensitive]
                    },
                    text: entries.map { "\($0.name)=\($0.value ?? "(hidden)") (\($0.source)\($0.isReadOnly ? ", read-only" : ""))" }
                )
            }
        }
    }

    struct Alter: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change settings of a topic or broker; the others are kept unless --replace.")
        @OptionGroup var common: CommonOptions
        @OptionGroup var target: Target
        @Option(name: .customLong("set"), help: "A setting as key=value; repeat for several.") var settings: [String]
        @Flag(help: "Replace every dynamic setting with the ones given (the others return to their defaults).") var replace = false

        func run() async throws {
            await common.run { admin, output in
                let changes = [target.resource: try parseSettings(settings)]
                let outcome = replace ? try await admin.alterConfigs(changes) : try await admin.changeConfigs(changes)
                let changed = output.sorted(outcome)
                output.emit(json: changed.map { ["resource": $0.0.description, "altered": true] }, text: changed.map { "altered \($0.0)" })
            }
        }
    }
}
