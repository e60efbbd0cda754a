import AllocationCounter
import Foundation
import Kafka
import KafkaEmbedded

/// False with `--no-alloc-count`: the bench then never reads the AllocationCounter (its rows report
/// no allocations) and drains the main queue with a run loop instead of `dispatch_main`, so that it
/// runs under valgrind (`valgrind --tool=callgrind`).
let countsAllocations = !CommandLine.arguments.contains("--no-alloc-count")

/// True with `--no-raw`: the raw C rows are skipped, so that a profiler sees only the Swift rows.
let skipsRawRows = CommandLine.arguments.contains("--no-raw")

/// Allocations of the whole process so far; zero when allocations are not counted.
@inline(__always) func allocationsSoFar() -> UInt64 {
    countsAllocations ? allocation_counter_total() : 0
}

/// CPU time (user + system) of the whole process so far: every thread, librdkafka's, the embedded
/// cluster's (when it runs in this process, not with `--broker-process`) and the Swift runtime's
/// included (`getrusage(RUSAGE_SELF)`; a child process is never counted).
@inline(__always) func processCPUTime() -> Duration {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    let microseconds = (Int64(usage.ru_utime.tv_sec) + Int64(usage.ru_stime.tv_sec)) * 1_000_000
        + Int64(usage.ru_utime.tv_usec) + Int64(usage.ru_stime.tv_usec)
    return .microseconds(microseconds)
}

/// One run of one row of the results table.
struct Row {
    let name: String
    let messages: Int
    let bytes: Int
    let elapsed: Duration
    /// Process CPU time (user + system, all threads) over the same section as `elapsed`.
    let cpu: Duration
    /// Nil when allocations are not counted (`--no-alloc-count`).
    let allocationsPerMessage: Double?
    let baseline: String?
    /// The round this run belongs to, from 1.
    var round = 0

    init(name: String, messages: Int, bytes: Int, elapsed: Duration, cpu: Duration, allocations: UInt64, baseline: String?) {
        self.name = name
        self.messages = messages
        self.bytes = bytes
        self.elapsed = elapsed
        self.cpu = cpu
        self.allocationsPerMessage = countsAllocations ? Double(allocations) / Double(max(1, messages)) : nil
        self.baseline = baseline
    }

    var seconds: Double { Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18 }
    var rate: Double { Double(messages) / seconds }
    var megabytesPerSecond: Double { Double(bytes) / seconds / 1_048_576 }
    /// Process CPU nanoseconds per message.
    var cpuNanosecondsPerMessage: Double {
        (Double(cpu.components.seconds) * 1e9 + Double(cpu.components.attoseconds) / 1e9) / Double(max(1, messages))
    }
}

/// Runs `body` and measures wall time, process CPU time and allocations per message; runs nothing
/// when `only` is set and not part of `name`. The CPU time is read right outside the clock's start and stop.
func measure(_ name: String, only: String?, messages: Int, bytes: Int, baseline: String? = nil, _ body: () throws -> Void) rethrows -> Row? {
    if let only, !name.contains(only) { return nil }
    if skipsRawRows, name.contains("raw C") { return nil }
    let allocationsBefore = allocationsSoFar()
    let cpuBefore = processCPUTime()
    let start = ContinuousClock.now
    try body()
    let elapsed = ContinuousClock.now - start
    let cpu = processCPUTime() - cpuBefore
    let allocations = allocationsSoFar() &- allocationsBefore
    return Row(name: name, messages: messages, bytes: bytes, elapsed: elapsed, cpu: cpu, allocations: allocations, baseline: baseline)
}

func measureAsync(
    _ name: String, only: String?, messages: Int, bytes: Int, baseline: String? = nil, isolation: isolated (any Actor)? = #isolation,
    _ body: () async throws -> Void
) async rethrows -> Row? {
    if let only, !name.contains(only) { return nil }
    if skipsRawRows, name.contains("raw C") { return nil }
    let allocationsBefore = allocationsSoFar()
    let cpuBefore = processCPUTime()
    let start = ContinuousClock.now
    try await body()
    let elapsed = ContinuousClock.now - start
    let cpu = processCPUTime() - cpuBefore
    let allocations = allocationsSoFar() &- allocationsBefore
    return Row(name: name, messages: messages, bytes: bytes, elapsed: elapsed, cpu: cpu, allocations: allocations, baseline: baseline)
}

/// The median of `values`: the middle one, or the mean of the middle two; nil when there are none.
func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/// One row of the report: the medians of a row's runs, one run per round. Each ratio is taken per
/// round, against the baseline's run of the same round, and its median reported.
struct Summary {
    let name: String
    let messages: Int
    let runs: Int
    let rate: Double
    let megabytesPerSecond: Double
    let cpuNanosecondsPerMessage: Double
    let allocationsPerMessage: Double?
    /// Swift msgs/s ÷ raw C msgs/s (higher is better); nil for a baseline.
    let rateRatio: Double?
    /// Swift CPU per message ÷ raw C CPU per message (lower is better); nil for a baseline.
    let cpuRatio: Double?
    let baseline: String?

    /// The summaries of `rows` (every round's runs), in the order the rows first ran.
    static func of(_ rows: [Row]) -> [Summary] {
        var order: [String] = []
        var runs: [String: [Row]] = [:]
        for row in rows {
            if runs[row.name] == nil { order.append(row.name) }
            runs[row.name, default: []].append(row)
        }
        var baselineRuns: [String: [Int: Row]] = [:]
        // Any row can be a baseline: raw C's per-message produce is a ratio row itself and the
        // baseline of the fire-and-forget sends.
        for row in rows { baselineRuns[row.name, default: [:]][row.round] = row }
        return order.map { name in
            let own = runs[name]!
            let pairs = own.compactMap { run in run.baseline.flatMap { baselineRuns[$0]?[run.round] }.map { (run, $0) } }
            let allocations = own.compactMap(\.allocationsPerMessage)
            return Summary(
                name: name, messages: own[0].messages, runs: own.count,
                rate: median(own.map(\.rate))!, megabytesPerSecond: median(own.map(\.megabytesPerSecond))!,
                cpuNanosecondsPerMessage: median(own.map(\.cpuNanosecondsPerMessage))!,
                allocationsPerMessage: median(allocations),
                rateRatio: median(pairs.map { $0.0.rate / $0.1.rate }),
                cpuRatio: median(pairs.map { $0.0.cpuNanosecondsPerMessage / $0.1.cpuNanosecondsPerMessage }),
                baseline: own[0].baseline
            )
        }
    }
}

/// The value at `fraction` of the sorted `values`; zero when there are none (the row did not run).
func percentile(_ values: [Duration], _ fraction: Double) -> Duration {
    guard !values.isEmpty else { return .zero }
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]
}

func microseconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) * 1e6 + Double(duration.components.attoseconds) / 1e12
}

func peakRSSMegabytes() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

/// Latencies of `calls` blocking single-message produce calls (the Go-style API).
func syncProduceLatencies(_ producer: BrokerProducer, topic: String, calls: Int, value: [UInt8]) throws -> [Duration] {
    let single = [Message(value: value)]
    let clock = ContinuousClock()
    var latencies: [Duration] = []
    latencies.reserveCapacity(calls)
    for _ in 0..<calls {
        let start = clock.now
        try producer.produce(topic, partition: 0, messages: single)
        latencies.append(clock.now - start)
    }
    return latencies
}

/// Latencies of `calls` blocking `consume()` calls, each with its message already fetched: a new
/// consumer of `topic`/0 from offset 0 takes its first message untimed (that call waits for the
/// fetch, which brings every message of the topic at once), then the next `calls` are timed. The
/// topic holds at least `calls + 1` messages of `size` bytes.
func readyConsumeLatencies(_ broker: Broker, topic: String, calls: Int, size: Int) throws -> [Duration] {
    var conf = ConsumerConf(topic: topic, partition: 0)
    conf.startOffset = .offset(0)
    let consumer = try broker.consumer(conf)
    defer { consumer.close() }
    let first = try consumer.consume()
    precondition(first.value?.count == size, "consume latency: the first message has the wrong size")
    let clock = ContinuousClock()
    var latencies: [Duration] = []
    latencies.reserveCapacity(calls)
    for _ in 0..<calls {
        let start = clock.now
        // The message is dropped inside the timed section, as the raw C side destroys its own.
        let fits = try consumer.consume().value?.count == size
        latencies.append(clock.now - start)
        precondition(fits, "consume latency: a message has the wrong size")
    }
    return latencies
}

/// A latency comparison of a raw C and a Swift loop: each round's p50 and p99 of both, reported
/// as medians over the rounds, the ratios taken per round.
struct LatencyComparison {
    let title: String
    let rawLabel: String
    let swiftLabel: String
    /// The unit of the table and JSON fields: "us" (printed µs) or "ns".
    let unit: String
    /// Per round, in `unit`: raw p50, raw p99, Swift p50, Swift p99.
    private(set) var rounds: [(rawP50: Double, rawP99: Double, swiftP50: Double, swiftP99: Double)] = []

    init(title: String, rawLabel: String, swiftLabel: String, unit: String) {
        self.title = title
        self.rawLabel = rawLabel
        self.swiftLabel = swiftLabel
        self.unit = unit
    }

    /// Adds one round's latencies of both sides.
    mutating func add(raw: [Duration], swift: [Duration]) {
        let scale = unit == "ns" ? 1000.0 : 1.0
        func inUnit(_ duration: Duration) -> Double { microseconds(duration) * scale }
        rounds.append((
            inUnit(percentile(raw, 0.5)), inUnit(percentile(raw, 0.99)), inUnit(percentile(swift, 0.5)), inUnit(percentile(swift, 0.99))
        ))
    }

    private var rawP50: Double { median(rounds.map(\.rawP50)) ?? 0 }
    private var rawP99: Double { median(rounds.map(\.rawP99)) ?? 0 }
    private var swiftP50: Double { median(rounds.map(\.swiftP50)) ?? 0 }
    private var swiftP99: Double { median(rounds.map(\.swiftP99)) ?? 0 }
    private var p50Ratio: Double { median(rounds.map { $0.swiftP50 / $0.rawP50 }) ?? 0 }
    private var p99Ratio: Double { median(rounds.map { $0.swiftP99 / $0.rawP99 }) ?? 0 }

    /// Prints the table (after an empty line) when any round ran.
    func printTable() {
        guard !rounds.isEmpty else { return }
        let printed = unit == "us" ? "µs" : unit
        print("")
        print("| \(title), median of \(rounds.count) rounds | p50 \(printed) | p99 \(printed) |")
        print("|---|---:|---:|")
        print(String(format: "| %@ | %.0f | %.0f |", rawLabel, rawP50, rawP99))
        print(String(format: "| %@ | %.0f | %.0f |", swiftLabel, swiftP50, swiftP99))
        print(String(format: "| Swift / raw C | %.2f | %.2f |", p50Ratio, p99Ratio))
    }

    /// The JSON fields: medians and ratios, zero when no round ran.
    var json: [String: Double] {
        ["rawP50\(unit)": rawP50, "rawP99\(unit)": rawP99, "swiftP50\(unit)": swiftP50, "swiftP99\(unit)": swiftP99,
         "p50Ratio": p50Ratio, "p99Ratio": p99Ratio]
    }
}

extension Array<Row> {
    /// Appends the row of a run that took place; a run left out by `--only` has none.
    mutating func record(_ row: Row?) {
        if let row { append(row) }
    }
}

/// Runs `body(task)` `each` times in each of `tasks` concurrent child tasks (the service pattern:
/// many tasks, each awaiting one write at a time).
/// Runs `body` `each` times in each of `tasks` tasks, timing every call; returns the durations.
func inTasksTimed(_ tasks: Int, each: Int, _ body: @escaping @Sendable (Int) async throws -> Void) async throws -> [Duration] {
    try await withThrowingTaskGroup(of: [Duration].self) { group in
        for task in 0..<tasks {
            group.addTask {
                var durations: [Duration] = []
                durations.reserveCapacity(each)
                for _ in 0..<each {
                    let start = ContinuousClock.now
                    try await body(task)
                    durations.append(start.duration(to: .now))
                }
                return durations
            }
        }
        var all: [Duration] = []
        for try await durations in group { all += durations }
        return all
    }
}

func inTasks(_ tasks: Int, each: Int, _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for task in 0..<tasks {
            group.addTask {
                for _ in 0..<each { try await body(task) }
            }
        }
        try await group.waitForAll()
    }
}
