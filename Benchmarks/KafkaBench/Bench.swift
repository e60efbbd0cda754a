import AllocationCounter
import Foundation
import Kafka
import KafkaEmbedded

/// One row of the results table.
struct Row {
    let name: String
    let messages: Int
    let bytes: Int
    let elapsed: Duration
    let allocationsPerMessage: Double
    let baseline: String?

    var seconds: Double { Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18 }
    var rate: Double { Double(messages) / seconds }
    var megabytesPerSecond: Double { Double(bytes) / seconds / 1_048_576 }
}

/// Runs `body` and measures time and allocations per message; runs nothing when `only` is set and not part of `name`.
func measure(_ name: String, only: String?, messages: Int, bytes: Int, baseline: String? = nil, _ body: () throws -> Void) rethrows -> Row? {
    if let only, !name.contains(only) { return nil }
    let allocationsBefore = allocation_counter_total()
    let start = ContinuousClock.now
    try body()
    let elapsed = ContinuousClock.now - start
    let allocations = allocation_counter_total() - allocationsBefore
    return Row(name: name, messages: messages, bytes: bytes, elapsed: elapsed,
               allocationsPerMessage: Double(allocations) / Double(max(1, messages)), baseline: baseline)
}

func measureAsync(
    _ name: String, only: String?, messages: Int, bytes: Int, baseline: String? = nil, isolation: isolated (any Actor)? = #isolation,
    _ body: () async throws -> Void
) async rethrows -> Row? {
    if let only, !name.contains(only) { return nil }
    let allocationsBefore = allocation_counter_total()
    let start = ContinuousClock.now
    try await body()
    let elapsed = ContinuousClock.now - start
    let allocations = allocation_counter_total() - allocationsBefore
    return Row(name: name, messages: messages, bytes: bytes, elapsed: elapsed,
               allocationsPerMessage: Double(allocations) / Double(max(1, messages)), baseline: baseline)
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

extension Array<Row> {
    /// Appends the row of a run that took place; a run left out by `--only` has none.
    mutating func record(_ row: Row?) {
        if let row { append(row) }
    }
}
