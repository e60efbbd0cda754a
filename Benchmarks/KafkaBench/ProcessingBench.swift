import Foundation
import Kafka
import Synchronization

// The processing rows: a ProcessingLoop over one partition with a distinct key per message and a
// handler that awaits 1 ms of real time (`Task.sleep`), at concurrency limits 1, 8 and 64. Each
// run joins a new group, so it reads the topic from its start; its clock runs from the first
// handler's start to the end of the `count`-th handler. There is no raw C row: librdkafka has no
// processing loop. The ideal is `limit` × the rate at limit 1 (every handler's 1 ms overlaps).

/// The messages each limit handles: about a second of work at the ideal rate.
enum ProcessingBenchSettings {
    static let topic = "processing"
    static let limits = [1, 8, 64]
    static func count(_ limit: Int) -> Int { limit == 1 ? 1_000 : limit == 8 ? 8_000 : 40_000 }
    static var topicSize: Int { limits.map(count).max() ?? 0 }
}

/// One run of the loop at `limit`: msgs/s and CPU nanoseconds per message (the whole process).
func processingRate(broker: Broker, limit: Int, round: Int) async throws -> (rate: Double, cpuPerMessage: Double) {
    let count = ProcessingBenchSettings.count(limit)
    let done = Mutex(0)
    let started = Mutex<(ContinuousClock.Instant, Duration)?>(nil)
    let ended = Mutex<(ContinuousClock.Instant, Duration)?>(nil)
    var conf = ProcessingConf()
    conf.concurrency = limit
    conf.maxBufferedMessages = max(1_000, limit * 16)
    let loop = try ProcessingLoop(
        broker: broker, group: benchGroupConf("bench-processing-\(limit)-\(round)", ProcessingBenchSettings.topic), conf: conf
    ) { _ in
        started.withLock { if $0 == nil { $0 = (.now, processCPUTime()) } }
        try await Task.sleep(for: .milliseconds(1))
        let finished = done.withLock { value -> Bool in
            value += 1
            return value == count
        }
        if finished { ended.withLock { $0 = (.now, processCPUTime()) } }
    }
    let running = Task { try await loop.run() }
    let deadline = ContinuousClock.now + .seconds(120)
    while ended.withLock({ $0 }) == nil {
        guard ContinuousClock.now < deadline else {
            running.cancel()
            throw KafkaError.invalidArgument("processing bench at concurrency \(limit): \(done.withLock { $0 }) of \(count) handled in 120 s")
        }
        try await Task.sleep(for: .milliseconds(5))
    }
    running.cancel()
    try await running.value
    guard let start = started.withLock({ $0 }), let end = ended.withLock({ $0 }) else { return (0, 0) }
    let elapsed = end.0 - start.0
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    let cpu = end.1 - start.1
    let cpuNanoseconds = Double(cpu.components.seconds) * 1e9 + Double(cpu.components.attoseconds) / 1e9
    return (Double(count - 1) / seconds, cpuNanoseconds / Double(count - 1))
}

/// The medians of the processing rows over rounds, printed as a table.
struct ProcessingTable {
    private var rates: [Int: [Double]] = [:]
    private var cpu: [Int: [Double]] = [:]

    var isEmpty: Bool { rates.isEmpty }

    mutating func add(limit: Int, rate: Double, cpuPerMessage: Double) {
        rates[limit, default: []].append(rate)
        cpu[limit, default: []].append(cpuPerMessage)
    }

    private func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }

    func printTable() {
        guard !isEmpty else { return }
        let base = median(rates[1] ?? [])
        print("")
        print("ProcessingLoop, one partition, a key per message, handler awaits 1 ms of real time (Task.sleep):")
        print("| concurrency | msgs/s | CPU ns/msg | × limit 1 | × limit 1 / limit (≥ 0.8 is the goal) |")
        print("|---:|---:|---:|---:|---:|")
        for limit in ProcessingBenchSettings.limits {
            let rate = median(rates[limit] ?? [])
            let speedup = base > 0 ? rate / base : 0
            print(String(format: "| %d | %.0f | %.0f | %.1f | %.2f |", limit, rate, median(cpu[limit] ?? []), speedup, speedup / Double(limit)))
        }
    }

    var json: [[String: Any]] {
        ProcessingBenchSettings.limits.map { limit in
            ["concurrency": limit, "msgsPerSecond": median(rates[limit] ?? []), "cpuNsPerMessage": median(cpu[limit] ?? [])]
        }
    }
}
