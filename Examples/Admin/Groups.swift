import ArgumentParser
import Foundation
import Kafka

/// `kafka-admin groups list|describe|delete|lag|reset-offsets`.
struct Groups: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "groups", abstract: "List, describe and delete consumer groups; show their lag; reset their offsets.",
        subcommands: [List.self, Describe.self, Delete.self, Lag.self, ResetOffsets.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every consumer group with its state.")
        @OptionGroup var common: CommonOptions

        func run() async throws {
            await common.run { admin, output in
                let groups = try await admin.listGroups()
                output.emit(
                    json: groups.map { ["group": $0.id, "state": $0.state.rawValue, "simple": $0.isSimple] },
                    text: groups.map { "\($0.id) \($0.state.rawValue)" }
                )
            }
        }
    }

    struct Describe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Describe groups: state, assignor, members and their partitions.")
        @OptionGroup var common: CommonOptions
        @Option(name: .customLong("group"), help: "Group to describe; repeat for several.") var groups: [String]

        func run() async throws {
            await common.run { admin, output in
                let described = output.sorted(try await admin.describeGroups(groups))
                output.emit(
                    json: described.map { _, group in
                        [
                            "group": group.id, "state": group.state.rawValue, "assignor": group.partitionAssignor,
                            "coordinator": group.coordinator as Any,
                            "members": group.members.map {
                                ["member": $0.memberID, "client": $0.clientID, "host": $0.host, "partitions": $0.assignment.map(\.description)]
                            },
                        ]
                    },
                    text: described.flatMap { _, group in
                        ["group \(group.id) \(group.state.rawValue) assignor \(group.partitionAssignor.isEmpty ? "-" : group.partitionAssignor) members \(group.members.count)"]
                            + group.members.map { "  \($0.memberID) \($0.clientID) \($0.host) \($0.assignment.map(\.description).joined(separator: " "))" }
                    }
                )
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete groups (without members) and their committed offsets.")
        @OptionGroup var common: CommonOptions
        @Option(name: .customLong("group"), help: "Group to delete; repeat for several.") var groups: [String]

        func run() async throws {
            await common.run { admin, output in
                let deleted = output.sorted(try await admin.deleteGroups(groups))
                output.emit(json: deleted.map { ["group": $0.0, "deleted": true] }, text: deleted.map { "deleted group \($0.0)" })
            }
        }
    }

    struct Lag: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "How far behind a group is: committed offset against the end, per partition.")
        @OptionGroup var common: CommonOptions
        @Option(help: "The consumer group.") var group: String
        @Option(name: .customLong("topic"), help: "Topic to report; repeat for several (default: every topic the group committed in).") var topics: [String] = []

        func run() async throws {
            await common.run { admin, output in
                let lag = try await admin.lag(group: group, topics: topics.isEmpty ? nil : topics).sorted { $0.key < $1.key }
                output.emit(
                    json: [
                        "group": group, "total": lag.reduce(0) { $0 + Int($1.value.lag) },
                        "partitions": lag.map { ["topic": $0.key.topic, "partition": $0.key.partition, "committed": $0.value.committed, "end": $0.value.end, "lag": $0.value.lag] },
                    ],
                    text: lag.map { "\($0.key) committed \($0.value.committed) end \($0.value.end) lag \($0.value.lag)" }
                        + ["total lag \(lag.reduce(Int64(0)) { $0 + $1.value.lag })"]
                )
            }
        }
    }

    struct ResetOffsets: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset-offsets",
            abstract: "Move a group's committed offsets in every partition of a topic; prints the plan, and runs it with --execute.",
            discussion: "The group must have no active members (stop its consumers first)."
        )
        @OptionGroup var common: CommonOptions
        @Option(help: "The consumer group.") var group: String
        @Option(help: "The topic whose partitions move.") var topic: String
        @Flag(help: "To the first offset still held.") var toEarliest = false
        @Flag(help: "To the end: skip everything written so far.") var toLatest = false
        @Option(help: "To the first message written at or after this ISO 8601 time (e.g. 2026-12-01T10:00:00Z).") var toDatetime: String?
        @Option(help: "To this offset, held within each partition's watermarks.") var toOffset: Int64?
        @Flag(help: "Commit the plan (without it, only print it).") var execute = false

        func validate() throws {
            let chosen = [toEarliest, toLatest, toDatetime != nil, toOffset != nil].filter { $0 }.count
            guard chosen == 1 else { throw ValidationError("give exactly one of --to-earliest, --to-latest, --to-datetime, --to-offset") }
            if let toDatetime, Self.date(toDatetime) == nil { throw ValidationError("--to-datetime \(toDatetime) is not an ISO 8601 time") }
            if let toOffset, toOffset < 0 { throw ValidationError("--to-offset must not be negative") }
        }

        static func date(_ text: String) -> Date? {
            let withFraction = ISO8601DateFormatter()
            withFraction.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return ISO8601DateFormatter().date(from: text) ?? withFraction.date(from: text)
        }

        private var target: ResetTarget {
            if toEarliest { return .earliest }
            if toLatest { return .latest }
            if let toDatetime, let date = Self.date(toDatetime) { return .time(date) }
            return .offset(toOffset ?? 0)
        }

        func run() async throws {
            await common.run { admin, output in
                let plan = try await admin.planReset(group: group, topic: topic, to: target).sorted { $0.key < $1.key }
                if execute { try await admin.resetOffsets(group: group, to: Dictionary(uniqueKeysWithValues: plan.map { ($0.key, $0.value.target) })) }
                output.emit(
                    json: [
                        "group": group, "executed": execute,
                        "partitions": plan.map { ["topic": $0.key.topic, "partition": $0.key.partition, "current": $0.value.current as Any, "target": $0.value.target] },
                    ],
                    text: plan.map { "\($0.key) \($0.value.current.map(String.init) ?? "-") -> \($0.value.target)" }
                        + [execute ? "reset group \(group)" : "dry run: add --execute to reset group \(group)"]
                )
            }
        }
    }
}
