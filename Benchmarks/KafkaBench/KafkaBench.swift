import Crdkafka
import Foundation
import Kafka
import KafkaEmbedded

// kafka-bench: the Swift API side by side with raw librdkafka calls, in one
// process, on one single-broker cluster (librdkafka's mock), embedded in the process or not.
//   --count N            messages of the produce rows (default 1,000,000)
//   --size B             value size in bytes (default 100)
//   --partitions P       partitions of the consume rows (default 16)
//   --per-partition M    messages per partition for the consume rows (default 40,000)
//   --latency-calls L    calls of each latency row: sync single-message produces, and consume() calls
//                        with the message ready (default 1,000)
//   --json FILE          also write the results as JSON (default bench-results.json)
//   --rounds R           runs of every row, interleaved (each round runs every row once, the order
//                        of a section's rows reversed every other round); medians are reported (default 5)
//   --only TEXT          run only the rows whose name contains TEXT (and their raw C baselines);
//                        "processing" runs the ProcessingLoop rows (concurrency 1, 8 and 64) alone
//   --no-raw             skips the raw C rows (to profile the Swift rows alone); ratios then read "-"
//   --broker-process     the broker runs in its own process: kafka-serve (from the same bin directory)
//                        is started as a child and stopped at the end, so the CPU column counts the
//                        client alone; without it the cluster is embedded and its CPU counted too
//   --no-alloc-count     no allocation counts: never reads the AllocationCounter, and drains the main
//                        queue with a run loop, not dispatch_main (whose sigsuspend on a read-only mask
//                        kills valgrind 3.19), so the bench runs under `valgrind --tool=callgrind`
// Every row reports msgs/s and the process CPU time (user + system of all threads: librdkafka's, and
// the embedded cluster's when there is one, from getrusage(RUSAGE_SELF)) per message, over the same section.
@main
enum KafkaBench {
    /// Flags that take no value.
    static let switches: Set<String> = ["no-alloc-count", "no-raw", "broker-process"]

    static func main() {
        Task { @MainActor in
            do {
                try await run()
                exit(0)
            } catch {
                FileHandle.standardError.write(Data("kafka-bench: error: \(error)\n".utf8))
                exit(1)
            }
        }
        if countsAllocations {
            dispatchMain()
        } else {
            while true { _ = RunLoop.main.run(mode: .default, before: .distantFuture) }
        }
    }

    @MainActor static func run() async throws {
        var options: [String: String] = [:]
        var arguments = CommandLine.arguments.dropFirst().makeIterator()
        while let flag = arguments.next() {
            if flag.hasPrefix("--"), switches.contains(String(flag.dropFirst(2))) { continue }
            guard flag.hasPrefix("--"), let value = arguments.next() else {
                FileHandle.standardError.write(Data("kafka-bench: expected --flag value pairs, got \(flag)\n".utf8))
                exit(2)
            }
            options[String(flag.dropFirst(2))] = value
        }
        func option(_ name: String, _ fallback: Int) -> Int {
            guard let text = options[name] else { return fallback }
            guard let value = Int(text.replacingOccurrences(of: "_", with: "")), value > 0 else {
                FileHandle.standardError.write(Data("kafka-bench: --\(name) needs a positive number\n".utf8))
                exit(2)
            }
            return value
        }
        let count = option("count", 1_000_000)
        let size = option("size", 100)
        let partitions = option("partitions", 16)
        let perPartition = option("per-partition", 40_000)
        let latencyCalls = option("latency-calls", 1000)
        let jsonPath = options["json"] ?? "bench-results.json"
        let rounds = option("rounds", 5)
        let only = options["only"]
        func selected(_ name: String) -> Bool { only.map { name.contains($0) } ?? true }
        let value = [UInt8](repeating: UInt8(ascii: "v"), count: size)
        func note(_ text: String) { FileHandle.standardError.write(Data((text + "\n").utf8)) }

        let singlePartitionTopics = [
            "raw-produce", "swift-sync", "swift-async", "batch-1000", "batch-100", "batch-1", "latency-raw", "latency-swift", "consume-latency",
        ]
        let cluster = try BenchCluster(
            inOwnProcess: CommandLine.arguments.contains("--broker-process"),
            topics: singlePartitionTopics.map { ($0, 1) } + [("consume", partitions), ("service-raw", 4), ("service-produce", 4), ("service-send", 4), ("send-all", 1),
                                                          (ProcessingBenchSettings.topic, 1)]
        )
        // A failure below (a thrown error) must not leave a kafka-serve child running.
        defer { cluster.close() }
        note("broker: \(cluster.placement) at \(cluster.bootstrap)")
        let bootstrap = cluster.bootstrap
        let broker = try await Broker.dial(cluster.addresses)
        let producer = try broker.producer()
        var rows: [Row] = []
        // Warm up: every topic's metadata and leader connection exist before anything is timed.
        for topic in ["swift-sync", "swift-async", "batch-1000", "batch-100", "batch-1", "latency-swift", "service-produce", "service-send", "send-all"] {
            try await producer.produce(topic, partition: 0, messages: [Message(value: value)])
        }
        // The senders of the service rows: like for like with the raw C rows (no linger, not idempotent).
        var senderConf = SenderConf()
        senderConf.linger = .zero
        senderConf.idempotent = false
        let sender = try broker.sender(senderConf)
        _ = try await sender.send(Message(value: value), to: "service-send", partition: 0).delivered()
        _ = try await sender.send(Message(value: value), to: "send-all", partition: 0).delivered()
        let serviceTotal = max(64, min(count / 10, 100_000) / 64 * 64)
        _ = RawLibrdkafka.produceAll(bootstrap: bootstrap, topic: "raw-produce", count: 1, value: value)

        let rawProduce = "produce: raw C produce_batch, then wait for reports"
        // Consume
        note("filling \(partitions) partitions with \(perPartition) messages each, then consuming ...")
        for partition in 0..<partitions {
            var fill = (0..<perPartition).map { _ in Message(value: value) }
            for start in stride(from: 0, to: perPartition, by: 10_000) {
                var slice = Array(fill[start..<min(start + 10_000, perPartition)])
                try await producer.produce("consume", partition: Int32(partition), messages: &slice)
            }
            fill = []
        }
        let consumeTotal = partitions * perPartition
        // The consume latency rows read the first `latencyCalls + 1` messages of this topic in every round.
        let consumeLatencyName = "consume latency"
        if selected(consumeLatencyName) {
            var ready = (0...latencyCalls).map { _ in Message(value: value) }
            try await producer.produce("consume-latency", partition: 0, messages: &ready)
        }
        let rawConsume = "consume: raw C batch consume"
        let rawConsumeCopying = "consume: raw C batch consume, each payload copied"
        let rawGroup = "consume: raw C rd_kafka_consumer_poll loop (group)"
        let swiftGroup = "consume: Swift GroupConsumer consume() (group)"
        let swiftGroupBorrowing = "consume: Swift GroupConsumer withBorrowedBatch (group)"
        // The processing rows read this topic from its start in every run: a distinct key per message.
        let processingName = "processing"
        var processing = ProcessingTable()
        if selected(processingName) {
            let total = ProcessingBenchSettings.topicSize
            for start in stride(from: 0, to: total, by: 10_000) {
                var slice = (start..<min(start + 10_000, total)).map { Message(key: Array("key-\($0)".utf8), value: value) }
                try await producer.produce(ProcessingBenchSettings.topic, partition: 0, messages: &slice)
            }
        }
        var produceLatency = LatencyComparison(
            title: "latency of one sync produce (\(latencyCalls) calls)", rawLabel: "raw C produce + wait for report", swiftLabel: "Swift produce", unit: "us"
        )
        var serviceLatency = LatencyComparison(
            title: "latency of one record in the service pattern (64 in flight over 4 partitions)",
            rawLabel: "raw C produce to delivery report", swiftLabel: "Swift Sender send + delivered()", unit: "us"
        )
        var consumeLatency = LatencyComparison(
            title: "\(consumeLatencyName): one blocking consume() with its message already fetched (\(latencyCalls) calls)",
            rawLabel: "raw C rd_kafka_consume_queue + rd_kafka_message_destroy", swiftLabel: "Swift BrokerConsumer consume()", unit: "ns"
        )
        // The machine is noisy: every row runs `rounds` times, interleaved (one run of every row per
        // round), and the medians of the per-round values are reported. Within the produce and consume
        // sections the order of the runs is reversed every other round, so no row always goes first.
        for round in 1...rounds {
            note("round \(round) of \(rounds)")
            let firstOfRound = rows.count
            defer { for index in firstOfRound..<rows.count { rows[index].round = round } }
            // Produce
            var produceRuns: [() async throws -> Void] = [
                {
                    rows.record(measure(rawProduce, only: nil, messages: count, bytes: count * size) {
                        precondition(RawLibrdkafka.produceBatched(bootstrap: bootstrap, topic: "raw-produce", count: count, value: value) == count)
                    })
                },
                {
                    // Runs with any --only: it is also the fire-and-forget sends' baseline.
                    rows.record(measure("produce: raw C produce per message, then wait", only: nil, messages: count, bytes: count * size, baseline: rawProduce) {
                        precondition(RawLibrdkafka.produceAll(bootstrap: bootstrap, topic: "raw-produce", count: count, value: value) == count)
                    })
                },
                {
                    let name = "produce: Swift, one sync call of all"
                    guard selected(name) else { return }
                    var all = (0..<count).map { _ in Message(value: value) }
                    rows.record(try measure(name, only: only, messages: count, bytes: count * size, baseline: rawProduce) {
                        try producer.produce("swift-sync", partition: 0, messages: &all)
                    })
                },
                {
                    let name = "produce: Swift, async call of all"
                    guard selected(name) else { return }
                    var all = (0..<count).map { _ in Message(value: value) }
                    rows.record(try await measureAsync(name, only: only, messages: count, bytes: count * size, baseline: rawProduce) {
                        try await producer.produce("swift-async", partition: 0, messages: &all)
                    })
                },
            ]
            // The service pattern: 64 tasks, each awaiting one single-message write at a time, over 4 partitions.
            let rawService = "produce: raw C 64 single messages in flight over 4 partitions"
            var serviceRawLatencies: [Duration] = []
            var serviceSwiftLatencies: [Duration] = []
            produceRuns.append {
                let log = RawLibrdkafka.LatencyLog(count: serviceTotal)
                rows.record(measure(rawService, only: nil, messages: serviceTotal, bytes: serviceTotal * size) {
                    let delivered = RawLibrdkafka.produceKeepingInFlight(
                        bootstrap: bootstrap, topic: "service-raw", partitions: 4, count: serviceTotal, inFlight: 64, value: value, latencyLog: log
                    )
                    precondition(delivered == serviceTotal, "raw service row delivered \(delivered) of \(serviceTotal)")
                })
                serviceRawLatencies = log.latencies
            }
            produceRuns.append {
                let name = "produce: Swift 64 tasks awaiting one-message produce() over 4 partitions"
                guard selected(name) else { return }
                rows.record(try await measureAsync(name, only: only, messages: serviceTotal, bytes: serviceTotal * size, baseline: rawService) {
                    try await inTasks(64, each: serviceTotal / 64) { task in
                        try await producer.produce("service-produce", partition: Int32(task % 4), messages: [Message(value: value)])
                    }
                })
            }
            produceRuns.append {
                let name = "produce: Swift 64 tasks awaiting Sender receipts over 4 partitions"
                guard selected(name) else { return }
                rows.record(try await measureAsync(name, only: only, messages: serviceTotal, bytes: serviceTotal * size, baseline: rawService) {
                    serviceSwiftLatencies = try await inTasksTimed(64, each: serviceTotal / 64) { task in
                        _ = try await sender.send(Message(value: value), to: "service-send", partition: Int32(task % 4)).delivered()
                    }
                })
            }
            // A flag, not a closure per row: a closure's reabstraction copied each message and
            // charged that to the Swift row.
            for (name, withoutReceipts) in [("produce: Swift Sender, fire-and-forget sends of all, then flush", false),
                                             ("produce: Swift Sender, sendAndForget of all (no receipts), then flush", true)] {
                produceRuns.append {
                    guard selected(name) else { return }
                    rows.record(try measure(name, only: only, messages: count, bytes: count * size, baseline: "produce: raw C produce per message, then wait") {
                        for _ in 0..<count {
                            if withoutReceipts {
                                try sender.sendAndForget(Message(value: value), to: "send-all", partition: 0)
                            } else {
                                try sender.send(Message(value: value), to: "send-all", partition: 0)
                            }
                        }
                        precondition(sender.flush(timeout: .seconds(120)) == 0, "the sender did not deliver everything")
                    })
                }
            }
            for (batchSize, topic, total) in [(1000, "batch-1000", count / 10), (100, "batch-100", count / 50), (1, "batch-1", min(count / 100, 5000))] {
                // A blocking call waits for its acknowledgements, so these rows compare with raw C doing
                // the same: enqueue a batch, wait for its reports (batches of 1 also have latency rows below).
                let rawSync = "produce: raw C sync batches of \(batchSize) (produce_batch, wait for reports)"
                produceRuns.append {
                    rows.record(measure(rawSync, only: nil, messages: total, bytes: total * size) {
                        precondition(RawLibrdkafka.produceInSyncBatches(bootstrap: bootstrap, topic: "raw-produce", count: total, batchSize: batchSize, value: value) == total)
                    })
                }
                produceRuns.append {
                    var chunk = (0..<batchSize).map { _ in Message(value: value) }
                    rows.record(try measure(
                        "produce: Swift, sync batches of \(batchSize)", only: only, messages: total, bytes: total * size,
                        baseline: rawSync
                    ) {
                        for _ in 0..<(total / batchSize) { try producer.produce(topic, partition: 0, messages: &chunk) }
                    })
                }
            }
            note("producing \(count) messages of \(size) bytes, raw C and Swift\(round % 2 == 0 ? " (reversed order)" : "") ...")
            for run in round % 2 == 1 ? produceRuns : produceRuns.reversed() { try await run() }
            if !serviceRawLatencies.isEmpty && !serviceSwiftLatencies.isEmpty {
                serviceLatency.add(raw: serviceRawLatencies, swift: serviceSwiftLatencies)
            }

            // Consume
            let mxPartitions = min(4, partitions)
            let consumeRuns: [() async throws -> Void] = [
                {
                    rows.record(measure(rawConsume, only: nil, messages: consumeTotal, bytes: consumeTotal * size) {
                        let (read, _) = RawLibrdkafka.consumeAll(bootstrap: bootstrap, topic: "consume", partitions: (0..<partitions).map(Int32.init), perPartition: perPartition)
                        precondition(read == consumeTotal, "raw consume read \(read) of \(consumeTotal)")
                    })
                },
                {
                    rows.record(measure(rawConsumeCopying, only: nil, messages: consumeTotal, bytes: consumeTotal * size, baseline: rawConsume) {
                        let (read, _) = RawLibrdkafka.consumeAll(
                            bootstrap: bootstrap, topic: "consume", partitions: (0..<partitions).map(Int32.init), perPartition: perPartition, copiesPayloads: true
                        )
                        precondition(read == consumeTotal, "raw consume read \(read) of \(consumeTotal)")
                    })
                },
                {
                    rows.record(try measure("consume: Swift consume() loop", only: only, messages: consumeTotal, bytes: consumeTotal * size, baseline: rawConsume) {
                        var read = 0
                        for partition in 0..<partitions {
                            let consumer = try broker.consumer(benchConsumerConf(partition))
                            for _ in 0..<perPartition {
                                read += try consumer.consume().value?.count == size ? 1 : 0
                            }
                            consumer.close()
                        }
                        precondition(read == consumeTotal, "consume() read \(read) of \(consumeTotal)")
                    })
                },
                {
                    rows.record(try measure("consume: Swift consume() loop, readsHeaders false", only: only, messages: consumeTotal, bytes: consumeTotal * size, baseline: rawConsume) {
                        var read = 0
                        for partition in 0..<partitions {
                            var conf = benchConsumerConf(partition)
                            conf.readsHeaders = false
                            let consumer = try broker.consumer(conf)
                            for _ in 0..<perPartition {
                                read += try consumer.consume().value?.count == size ? 1 : 0
                            }
                            consumer.close()
                        }
                        precondition(read == consumeTotal, "consume() read \(read) of \(consumeTotal)")
                    })
                },
                {
                    rows.record(try measure("consume: Swift withBorrowedBatch loop (views, no copies)", only: only, messages: consumeTotal, bytes: consumeTotal * size, baseline: rawConsume) {
                        var read = 0
                        for partition in 0..<partitions {
                            let consumer = try broker.consumer(benchConsumerConf(partition))
                            var taken = 0
                            while taken < perPartition {
                                try consumer.withBorrowedBatch { batch in
                                    for message in batch { read += message.value?.count == size ? 1 : 0 }
                                    taken += batch.count
                                }
                            }
                            consumer.close()
                        }
                        precondition(read == consumeTotal, "withBorrowedBatch read \(read) of \(consumeTotal)")
                    })
                },
                {
                    rows.record(try await measureAsync("consume: Swift for try await", only: only, messages: consumeTotal, bytes: consumeTotal * size, baseline: rawConsume) {
                        var read = 0
                        for partition in 0..<partitions {
                            let consumer = try await broker.consumer(benchConsumerConf(partition))
                            var taken = 0
                            for try await message in consumer {
                                read += message.value?.count == size ? 1 : 0
                                taken += 1
                                if taken == perPartition { break }
                            }
                            consumer.close()
                        }
                        precondition(read == consumeTotal, "for try await read \(read) of \(consumeTotal)")
                    })
                },
                {
                    rows.record(try measure("consume: Swift Mx over \(mxPartitions) partitions", only: only, messages: mxPartitions * perPartition, bytes: mxPartitions * perPartition * size, baseline: rawConsume) {
                        var consumers: [BrokerConsumer] = []
                        for partition in 0..<mxPartitions {
                            var conf = benchConsumerConf(partition)
                            conf.retryLimit = 10
                            consumers.append(try broker.consumer(conf))
                        }
                        let mx = Mx.merge(consumers)
                        var read = 0
                        while read < mxPartitions * perPartition { read += try mx.consume().value?.count == size ? 1 : 0 }
                        mx.close()
                        consumers.forEach { $0.close() }
                    })
                },
            ]
            note("consuming \(consumeTotal) messages, raw C and Swift\(round % 2 == 0 ? " (reversed order)" : "") ...")
            for run in round % 2 == 1 ? consumeRuns : consumeRuns.reversed() { try await run() }

            // Group members: each run joins a new group (an earlier run's commits would start it at
            // the end), reads the consume topic to its end, and leaves. The mock coordinator keeps a
            // joining member waiting about the session timeout, so both clocks start at the first
            // message; the two rows take turns at going first.
            var groupRuns: [() throws -> Void] = [
                {
                    rows.record(measureFromFirstMessage(rawGroup, only: selected(swiftGroup) || selected(swiftGroupBorrowing) ? nil : only, size: size) { stopwatch in
                        let read = RawLibrdkafka.groupConsumeAll(
                            bootstrap: bootstrap, group: "bench-raw-\(round)", topic: "consume", partitions: partitions, perPartition: perPartition, stopwatch: stopwatch
                        )
                        precondition(read >= consumeTotal, "raw group consume read \(read) of \(consumeTotal)")
                        return read
                    })
                },
                {
                    rows.record(try measureFromFirstMessage(swiftGroup, only: only, size: size, baseline: rawGroup) { stopwatch in
                        let read = try swiftGroupConsumeAll(
                            broker: broker, group: "bench-swift-\(round)", topic: "consume", partitions: partitions, perPartition: perPartition, size: size, stopwatch: stopwatch
                        )
                        precondition(read >= consumeTotal, "GroupConsumer consume() read \(read) of \(consumeTotal)")
                        return read
                    })
                },
            ]
            groupRuns.append {
                rows.record(try measureFromFirstMessage(swiftGroupBorrowing, only: only, size: size, baseline: rawGroup) { stopwatch in
                    let read = try swiftGroupBorrowAll(
                        broker: broker, group: "bench-borrow-\(round)", topic: "consume", partitions: partitions, perPartition: perPartition, size: size, stopwatch: stopwatch
                    )
                    precondition(read >= consumeTotal, "GroupConsumer withBorrowedBatch read \(read) of \(consumeTotal)")
                    return read
                })
            }
            if selected(swiftGroup) || selected(rawGroup) || selected(swiftGroupBorrowing) {
                note("group members: joining (about \(GroupBenchSettings.sessionTimeoutMilliseconds) ms each) and consuming ...")
            }
            for run in round % 2 == 1 ? groupRuns : groupRuns.reversed() { try run() }

            // Latency
            if selected("latency") {
                note("measuring \(latencyCalls) single-message sync produce round trips ...")
                produceLatency.add(
                    raw: RawLibrdkafka.produceLatencies(bootstrap: bootstrap, topic: "latency-raw", calls: latencyCalls, value: value),
                    swift: try syncProduceLatencies(producer, topic: "latency-swift", calls: latencyCalls, value: value)
                )
            }
            if selected(consumeLatencyName) {
                note("measuring \(latencyCalls) consume calls with their message ready ...")
                // The two sides take turns at going first, as the rows above do.
                var raw: [Duration] = []
                var swift: [Duration] = []
                let sides: [() throws -> Void] = [
                    { raw = RawLibrdkafka.readyConsumeLatencies(bootstrap: bootstrap, topic: "consume-latency", calls: latencyCalls) },
                    { swift = try readyConsumeLatencies(broker, topic: "consume-latency", calls: latencyCalls, size: size) },
                ]
                for side in round % 2 == 1 ? sides : sides.reversed() { try side() }
                consumeLatency.add(raw: raw, swift: swift)
            }
        }
        if selected(processingName) {
            note("processing loop: joining a group per concurrency limit (about \(GroupBenchSettings.sessionTimeoutMilliseconds) ms each) ...")
            for round in 1...rounds {
                let limits = round % 2 == 1 ? ProcessingBenchSettings.limits : ProcessingBenchSettings.limits.reversed()
                for limit in limits {
                    let result = try await processingRate(broker: broker, limit: limit, round: round)
                    processing.add(limit: limit, rate: result.rate, cpuPerMessage: result.cpuPerMessage)
                }
            }
        }
        let summaries = Summary.of(rows)
        broker.close()
        cluster.close()

        // Report
        let cores = ProcessInfo.processInfo.activeProcessorCount
        print("kafka-bench  \(Date())  \(cores) cores  librdkafka \(Librdkafka.version)  value \(size) B  \(cluster.placement)  median of \(rounds) interleaved rounds")
        print("CPU = this process's user + system time over the timed section: \(cluster.cpuCounts)")
        print("")
        print("| run | messages | msgs/s | MB/s | CPU ns/msg | allocs/msg | msgs/s Swift / raw C | CPU/msg Swift / raw C |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for row in summaries {
            let allocations = row.allocationsPerMessage.map { String(format: "%.2f", $0) } ?? "-"
            let isBaseline = row.baseline == nil
            let rateRatio = row.rateRatio.map { String(format: "%.2f", $0) } ?? (isBaseline ? "1.00 (baseline)" : "-")
            let cpuRatio = row.cpuRatio.map { String(format: "%.2f", $0) } ?? (isBaseline ? "1.00 (baseline)" : "-")
            print(String(
                format: "| %@ | %d | %.0f | %.1f | %.0f | %@ | %@ | %@ |", row.name, row.messages, row.rate, row.megabytesPerSecond,
                row.cpuNanosecondsPerMessage, allocations, rateRatio, cpuRatio
            ))
        }
        produceLatency.printTable()
        serviceLatency.printTable()
        consumeLatency.printTable()
        processing.printTable()
        print("")
        print(String(format: "peak RSS %.0f MiB", peakRSSMegabytes()))

        // A baseline's ratios are 1; a row whose baseline ran in none of its rounds has none (null).
        func ratioField(_ ratio: Double?, isBaseline: Bool) -> Any {
            if let ratio { return ratio }
            return isBaseline ? 1.0 : NSNull()
        }
        let json: [String: Any] = [
            "date": ISO8601DateFormatter().string(from: Date()), "cores": cores, "librdkafka": Librdkafka.version, "valueSize": size,
            "rounds": rounds, "statistic": "median", "allocationsCounted": countsAllocations,
            "brokerProcess": cluster.isOwnProcess, "cpuCounts": cluster.cpuCounts,
            "rows": summaries.map { row in
                ["name": row.name, "messages": row.messages, "runs": row.runs, "msgsPerSecond": row.rate, "mbPerSecond": row.megabytesPerSecond,
                 "cpuNsPerMessage": row.cpuNanosecondsPerMessage,
                 "allocationsPerMessage": row.allocationsPerMessage.map { NSNumber(value: $0) } ?? NSNull(),
                 "baseline": row.baseline.map { NSString(string: $0) } ?? NSNull(),
                 "ratio": ratioField(row.rateRatio, isBaseline: row.baseline == nil),
                 "cpuRatio": ratioField(row.cpuRatio, isBaseline: row.baseline == nil)] as [String: Any]
            },
            "latency": produceLatency.json, "serviceLatency": serviceLatency.json, "consumeLatency": consumeLatency.json, "processing": processing.json,
            "peakRSSMiB": peakRSSMegabytes(),
        ]
        if let data = try? JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]) {
            try data.write(to: URL(fileURLWithPath: jsonPath))
            print(String(decoding: data, as: UTF8.self))
        }
    }
}

/// The conf of the Swift partition-consumer rows: it starts at offset 0, as the raw C rows do
/// (`rd_kafka_consume_start_queue` at 0), so neither side spends a round trip resolving `.oldest`.
func benchConsumerConf(_ partition: Int) -> ConsumerConf {
    var conf = ConsumerConf(topic: "consume", partition: Int32(partition))
    conf.startOffset = .offset(0)
    return conf
}
