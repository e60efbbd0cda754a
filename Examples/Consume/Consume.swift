import ArgumentParser
import ExampleSupport
import Foundation
import Kafka
import KafkaEmbedded

/// Reads messages from one or more partitions of a topic and prints them.
@main
struct Consume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka-consume",
        abstract: "Read messages from Kafka partitions (several are merged with Mx)."
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case lines, json }

    @Option(help: "Comma-separated host:port list; without it an embedded cluster is started.") var brokers: String?
    @Option(help: "Topic to read.") var topic = "example"
    @Option(name: .customLong("partition"), help: "Partition to read; repeat to merge several.") var partitionList: [Int32] = []
    @Option(help: "Where to start: oldest, newest or an offset.") var start = "oldest"
    @Option(help: "Stop after this many empty fetches in a row (-1: wait forever).") var retryLimit = 10
    @Option(help: "Stop after this many messages (0: no limit).") var limit = 0
    @Option(help: "Commit the next offset of every partition read to this consumer group.") var group: String?
    @Option(help: "Output: lines (the value) or json (one object per message).") var format: Format = .lines
    @Option(help: "Partitions of the topic on the embedded cluster.") var partitions = 4

    func validate() throws {
        guard retryLimit >= -1 else { throw ValidationError("--retry-limit must be -1 or more") }
        guard limit >= 0 else { throw ValidationError("--limit must not be negative") }
        guard startOffset != nil else { throw ValidationError("--start must be oldest, newest or a non-negative offset") }
    }

    private var startOffset: StartOffset? {
        switch start {
        case "oldest": .oldest
        case "newest": .newest
        default: Int64(start).flatMap { $0 >= 0 ? .offset($0) : nil }
        }
    }

    func run() async throws {
        await ExampleSupport.run("kafka-consume") {
            var embedded: MockCluster?
            let addresses = try ExampleSupport.addresses(brokers: brokers, topic: topic, partitions: partitions, program: "kafka-consume", embedded: &embedded)
            let broker = try ExampleSupport.dial(addresses, clientID: "kafka-consume")
            defer { broker.close() }
            let chosen = partitionList.isEmpty ? [0] : partitionList
            var consumers: [any Consumer] = []
            for partition in chosen {
                var conf = ConsumerConf(topic: topic, partition: partition)
                conf.startOffset = startOffset ?? .oldest
                conf.retryLimit = retryLimit
                consumers.append(try await broker.consumer(conf))
            }
            let source: any Consumer = consumers.count == 1 ? consumers[0] : Mx.merge(consumers)
            let progress = Progress("consumed")
            var next: [Int32: Int64] = [:]
            while limit == 0 || progress.count < limit {
                let message: Message
                do {
                    message = try await source.consume()
                } catch KafkaError.noData {
                    break
                } catch KafkaError.mxClosed {
                    break
                }
                print(render(message))
                progress.add(1, bytes: message.value?.count ?? 0)
                next[message.partition] = message.offset + 1
            }
            (source as? Mx)?.close()
            if let group {
                let coordinator = try broker.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: group))
                for (partition, offset) in next.sorted(by: { $0.key < $1.key }) {
                    try await coordinator.commit(topic, partition: partition, offset: offset)
                }
            }
            progress.finish(" from \(topic)" + (group.map { ", offsets committed to group \($0)" } ?? ""))
        }
    }

    private func render(_ message: Message) -> String {
        let value = message.value.map { String(decoding: $0, as: UTF8.self) }
        guard format == .json else { return value ?? "" }
        let object: [String: Any] = [
            "topic": message.topic, "partition": message.partition, "offset": message.offset,
            "key": message.key.map { String(decoding: $0, as: UTF8.self) } ?? NSNull(),
            "value": value ?? NSNull(), "timestamp": message.timestamp ?? NSNull(),
            "headers": Dictionary(message.headers.map { ($0.key, $0.value.map { String(decoding: $0, as: UTF8.self) } ?? "") }, uniquingKeysWith: { $1 }),
        ]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

