import ArgumentParser
import Kafka

/// `kafka-admin topics list|describe|create|delete|add-partitions`.
struct Topics: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topics", abstract: "List, describe, create and delete topics; add partitions.",
        subcommands: [List.self, Describe.self, Create.self, Delete.self, AddPartitions.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every topic's name.")
        @OptionGroup var common: CommonOptions
        @Flag(help: "Include internal topics (__consumer_offsets, ...).") var includeInternal = false

        func run() async throws {
            await common.run { admin, output in
                let names = try await admin.listTopics(includeInternal: includeInternal)
                output.emit(json: names, text: names)
            }
        }
    }

    struct Describe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Describe topics: partitions, leaders, replicas and, with --configs, settings.")
        @OptionGroup var common: CommonOptions
        @Option(name: .customLong("topic"), help: "Topic to describe; repeat for several (default: every topic).") var topics: [String] = []
        @Flag(help: "Also show each topic's settings.") var configs = false

        func run() async throws {
            await common.run { admin, output in
                let names = topics.isEmpty ? try await admin.listTopics(includeInternal: false) : topics
                let described = output.sorted(try await admin.describeTopics(names, configs: configs))
                output.emit(
                    json: described.map { _, topic in
                        [
                            "topic": topic.name,
                            "partitions": topic.partitions.map { ["partition": $0.id, "leader": $0.leader, "replicas": $0.replicas, "isr": $0.inSyncReplicas] },
                            "configs": topic.configs.map { $0.mapValues { $0.value as Any } } as Any,
                        ]
                    },
                    text: described.flatMap { _, topic in
                        ["topic \(topic.name) partitions \(topic.partitions.count)"]
                            + topic.partitions.map { "  partition \($0.id) leader \($0.leader) replicas \(list($0.replicas)) isr \(list($0.inSyncReplicas))" }
                            + (topic.configs ?? [:]).sorted { $0.key < $1.key }.map { "  config \($0.key)=\($0.value.value ?? "(hidden)")" }
                    }
                )
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a topic.")
        @OptionGroup var common: CommonOptions
        @Option(help: "Topic to create.") var topic: String
        @Option(help: "Number of partitions.") var partitions: Int32 = 1
        @Option(help: "Replicas of each partition.") var replicationFactor: Int32 = 1
        @Option(name: .customLong("config"), help: "A topic setting as key=value; repeat for several.") var settings: [String] = []
        @Option(help: "Replica assignment: partitions separated by ',', brokers of each by ':' (e.g. 1:2,2:3); overrides the counts.")
        var replicaAssignment: String?

        func run() async throws {
            await common.run { admin, output in
                let assignment = try replicaAssignment.map(parseAssignment)
                let new = NewTopic(topic, partitions: partitions, replicationFactor: replicationFactor, configs: try parseSettings(settings), replicaAssignment: assignment)
                let created = output.sorted(try await admin.createTopics([new]))
                output.emit(json: created.map { ["topic": $0.0, "created": true] }, text: created.map { "created topic \($0.0)" })
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete topics and their data.")
        @OptionGroup var common: CommonOptions
        @Option(name: .customLong("topic"), help: "Topic to delete; repeat for several.") var topics: [String]

        func run() async throws {
            await common.run { admin, output in
                let deleted = output.sorted(try await admin.deleteTopics(topics))
                output.emit(json: deleted.map { ["topic": $0.0, "deleted": true] }, text: deleted.map { "deleted topic \($0.0)" })
            }
        }
    }

    struct AddPartitions: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add-partitions", abstract: "Raise a topic's partition count.")
        @OptionGroup var common: CommonOptions
        @Option(help: "Topic to grow.") var topic: String
        @Option(help: "The new total number of partitions.") var total: Int32

        func run() async throws {
            await common.run { admin, output in
                let grown = output.sorted(try await admin.createPartitions([topic: total]))
                output.emit(json: grown.map { ["topic": $0.0, "partitions": Int(total)] }, text: grown.map { "topic \($0.0) now has \(total) partitions" })
            }
        }
    }
}

/// "1, 2, 3" → "[1,2,3]".
func list(_ ids: [Int32]) -> String {
    "[" + ids.map(String.init).joined(separator: ",") + "]"
}

/// key=value settings as a dictionary; a setting without '=' is an error.
func parseSettings(_ settings: [String]) throws -> [String: String] {
    var parsed: [String: String] = [:]
    for setting in settings {
        guard let equals = setting.firstIndex(of: "="), equals != setting.startIndex else {
            throw ValidationError("--config \(setting): give key=value")
        }
        parsed[String(setting[..<equals])] = String(setting[setting.index(after: equals)...])
    }
    return parsed
}

/// "1:2,2:3" → [[1, 2], [2, 3]].
func parseAssignment(_ text: String) throws -> [[Int32]] {
    try text.split(separator: ",").map { partition in
        try partition.split(separator: ":").map { id in
            guard let broker = Int32(id) else { throw ValidationError("--replica-assignment \(text): broker ids are numbers") }
            return broker
        }
    }
}
