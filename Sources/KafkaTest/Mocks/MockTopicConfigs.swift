import Foundation
import Kafka

/// Kafka's topic-level settings as ``MockAdmin`` knows them: each name with the default a Kafka
/// 3.9 broker of default settings reports, and the values it accepts. Kafka refuses an unknown
/// name or a bad value with `invalidConfig`, so the mock does too: a typo fails in unit tests as it
/// would on a cluster, not silently.
enum MockTopicConfigs {
    /// What values a setting accepts.
    enum Kind {
        /// A whole number in `range`.
        case number(ClosedRange<Int64>)
        /// A fraction in `range`.
        case fraction(ClosedRange<Double>)
        /// `true` or `false`.
        case boolean
        /// One of `allowed`, or anything when nil.
        case text(allowed: [String]?)
        /// A comma-separated list, each element one of `allowed`, or anything when nil.
        case list(allowed: [String]?)
    }

    private static let long = Int64.min...Int64.max
    private static let int = Int64(Int32.min)...Int64(Int32.max)
    private static let longMax = "9223372036854775807"

    /// Every topic setting of Kafka 3.9: (default, kind).
    static let known: [String: (value: String, kind: Kind)] = [
        "cleanup.policy": ("delete", .list(allowed: ["compact", "delete"])),
        "compression.gzip.level": ("-1", .number(-1...9)),
        "compression.lz4.level": ("9", .number(1...17)),
        "compression.type": ("producer", .text(allowed: ["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"])),
        "compression.zstd.level": ("3", .number(-131_072...22)),
        "delete.retention.ms": ("86400000", .number(0...long.upperBound)),
        "file.delete.delay.ms": ("60000", .number(0...long.upperBound)),
        "flush.messages": (longMax, .number(1...long.upperBound)),
        "flush.ms": (longMax, .number(0...long.upperBound)),
        "follower.replication.throttled.replicas": ("", .list(allowed: nil)),
        "index.interval.bytes": ("4096", .number(0...int.upperBound)),
        "leader.replication.throttled.replicas": ("", .list(allowed: nil)),
        "local.retention.bytes": ("-2", .number(-2...long.upperBound)),
        "local.retention.ms": ("-2", .number(-2...long.upperBound)),
        "max.compaction.lag.ms": (longMax, .number(1...long.upperBound)),
        "max.message.bytes": ("1048588", .number(0...int.upperBound)),
        "message.downconversion.enable": ("true", .boolean),
        "message.format.version": ("3.0-IV1", .text(allowed: nil)),
        "message.timestamp.after.max.ms": (longMax, .number(0...long.upperBound)),
        "message.timestamp.before.max.ms": (longMax, .number(0...long.upperBound)),
        "message.timestamp.difference.max.ms": (longMax, .number(0...long.upperBound)),
        "message.timestamp.type": ("CreateTime", .text(allowed: ["CreateTime", "LogAppendTime"])),
        "min.cleanable.dirty.ratio": ("0.5", .fraction(0...1)),
        "min.compaction.lag.ms": ("0", .number(0...long.upperBound)),
        "min.insync.replicas": ("1", .number(1...int.upperBound)),
        "preallocate": ("false", .boolean),
        "remote.log.copy.disable": ("false", .boolean),
        "remote.log.delete.on.disable": ("false", .boolean),
        "remote.storage.enable": ("false", .boolean),
        "retention.bytes": ("-1", .number(long)),
        "retention.ms": ("604800000", .number(-1...long.upperBound)),
        "segment.bytes": ("1073741824", .number(14...int.upperBound)),
        "segment.index.bytes": ("10485760", .number(4...int.upperBound)),
        "segment.jitter.ms": ("0", .number(0...long.upperBound)),
        "segment.ms": ("604800000", .number(1...long.upperBound)),
        "unclean.leader.election.enable": ("false", .boolean),
    ]

    /// Throws `invalidConfig` with Kafka's wording for the first unknown name or bad value (by name order).
    static func validate(_ settings: [String: String]) throws(KafkaError) {
        for (name, value) in settings.sorted(by: { $0.key < $1.key }) {
            guard let kind = known[name]?.kind else {
                throw .broker(.invalidConfig, message: "Unknown topic config name: \(name)")
            }
            if let problem = problem(value.trimmingCharacters(in: .whitespaces), kind) {
                throw .broker(.invalidConfig, message: "Invalid value \(value) for configuration \(name): \(problem)")
            }
        }
    }

    /// What is wrong with `value` for `kind`, or nil when nothing is.
    private static func problem(_ value: String, _ kind: Kind) -> String? {
        switch kind {
        case .number(let range):
            // Kafka's INT settings are the ones bounded by Int32; a value beyond that is no INT at all.
            let isLong = range.upperBound > Int64(Int32.max)
            guard let number = Int64(value), isLong || int.contains(number) else { return "Not a number of type \(isLong ? "LONG" : "INT")" }
            if number < range.lowerBound { return "Value must be at least \(range.lowerBound)" }
            if number > range.upperBound { return "Value must be no more than \(range.upperBound)" }
        case .fraction(let range):
            guard let number = Double(value) else { return "Not a number of type DOUBLE" }
            if !range.contains(number) { return "Value must be between \(range.lowerBound) and \(range.upperBound)" }
        case .boolean:
            if value.lowercased() != "true", value.lowercased() != "false" { return "Expected value to be either true or false" }
        case .text(let allowed):
            if let allowed, !allowed.contains(where: { $0.caseInsensitiveCompare(value) == .orderedSame }) {
                return "String must be one of: \(allowed.joined(separator: ", "))"
            }
        case .list(let allowed):
            let elements = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            if let allowed, elements.isEmpty || !elements.allSatisfy(allowed.contains) {
                return "String must be one or more of: \(allowed.joined(separator: ", "))"
            }
        }
        return nil
    }
}

