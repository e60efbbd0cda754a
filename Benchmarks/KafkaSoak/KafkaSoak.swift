import Foundation
import Kafka
import KafkaEmbedded

/// `make soak`: a long run that must keep memory level.
///  1. 1,000,000 messages produced to 16 partitions while 16 consumers read them back
///     (the embedded broker keeps only ~5 MiB per partition, so reading runs alongside);
///     every message is checked to arrive once, in order.
///  2. 10,000 cycles of consumer creation, produce, consume and close, with a fresh
///     broker dial and close every 100 cycles.
/// RSS is printed at intervals; the run fails if RSS grows by more than 64 MiB over the cycles phase.
@main
enum KafkaSoak {
    static func rssMiB() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "") else { return -1 }
        return kilobytes / 1024
    }

    static func main() async throws {
        let total = Int(ProcessInfo.processInfo.environment["SOAK_MESSAGES"] ?? "") ?? 1_000_000
        let cycles = Int(ProcessInfo.processInfo.environment["SOAK_CYCLES"] ?? "") ?? 10_000
        let partitions = 16
        let cluster = try MockCluster(brokers: 1)
        try cluster.createTopic("soak", partitions: partitions)
        try cluster.createTopic("cycles", partitions: 1)
        let broker = try await Broker.dial(cluster.addresses)
        let start = ContinuousClock.now
        print("soak: phase 1, \(total) messages over \(partitions) partitions; RSS \(rssMiB()) MiB")
        let perPartition = total / partitions
        try await withThrowingTaskGroup(of: Void.self) { group in
            for partition in 0..<partitions {
                group.addTask {
                    let producer = try broker.producer()
                    for chunk in stride(from: 0, to: perPartition, by: 500) {
                        let messages = (chunk..<min(chunk + 500, perPartition)).map { Message(value: Array("\(partition)-\($0)".utf8)) }
                        try await producer.produce("soak", partition: Int32(partition), messages: messages)
                    }
                }
                group.addTask {
                    var conf = ConsumerConf(topic: "soak", partition: Int32(partition))
                    conf.retryLimit = 200
                    let consumer = try await broker.consumer(conf)
                    for expected in 0..<perPartition {
                        let message = try await consumer.consume()
                        guard message.offset == Int64(expected), message.value == Array("\(partition)-\(expected)".utf8) else {
                            throw KafkaError.invalidArgument("partition \(partition): expected message \(expected), got offset \(message.offset)")
                        }
                        if partition == 0 && expected % 12_500 == 0 {
                            print("soak:   partition 0 at \(expected)/\(perPartition); RSS \(rssMiB()) MiB")
                        }
                    }
                    consumer.close()
                }
            }
            try await group.waitForAll()
        }
        print("soak: phase 1 done in \(ContinuousClock.now - start): \(perPartition * partitions) messages checked; RSS \(rssMiB()) MiB")

        print("soak: phase 2, \(cycles) produce/consume/close cycles")
        var current = broker
        let baseline = rssMiB()
        var peakAfterWarmup = 0
        for cycle in 0..<cycles {
            if cycle % 100 == 0 && cycle > 0 {
                current.close()
                current = try await Broker.dial(cluster.addresses)
            }
            var conf = ConsumerConf(topic: "cycles", partition: 0)
            conf.startOffset = .newest
            conf.retryLimit = 100
            let consumer = try await current.consumer(conf)
            try await current.producer().produce("cycles", partition: 0, messages: [Message(value: Array("\(cycle)".utf8))])
            let message = try await consumer.consume()
            guard message.value == Array("\(cycle)".utf8) else { throw KafkaError.invalidArgument("cycle \(cycle) read the wrong message") }
            consumer.close()
            if cycle % 1000 == 999 {
                let rss = rssMiB()
                if cycle >= 1999 { peakAfterWarmup = max(peakAfterWarmup, rss) }
                print("soak:   cycle \(cycle + 1); RSS \(rss) MiB; live librdkafka handles \(HandleCounter.liveHandles)")
            }
        }
        current.close()
        cluster.close()
        let growth = peakAfterWarmup - baseline
        print("soak: done in \(ContinuousClock.now - start); RSS \(rssMiB()) MiB (phase 2 started at \(baseline) MiB, peak \(peakAfterWarmup) MiB); live handles \(HandleCounter.liveHandles)")
        guard growth < 64, HandleCounter.liveHandles == 0 else {
            print("soak: FAILED: RSS grew \(growth) MiB or handles leaked")
            exit(1)
        }
    }
}
