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

    @OptionGroup(title: "TLS and SASL") var security: SecurityOptions
    @Option(help: "Comma-separated host:port list; without it an embedded cluster is started.") var brokers: String?
    @Option(help: "Topic to read.") var topic = "example"
    @Option(name: .customLong("partition"), help: "Partition to read; repeat to merge several.") var partitionList: [Int32] = []
    @Option(help: "Where to start: oldest, newest or an offset.") var start = "oldest"
    @Option(help: "Stop after this many empty fetches in a row (-1: wait forever).") var retryLimit = 10
    @Option(help: "Stop after this many messages (0: no limit).") var limit = 0
    @Option(help: "Consumer group. Without --partition: read as a member of this group (balanced, partitions assigned by the group; SIGTERM leaves the group after committing). With --partition: commit the next offset of every partition read to it.") var group: String?
    @Option(help: "Session timeout of a group member, in milliseconds.") var sessionTimeout = 10_000
    @Option(help: "Assignment strategy of a group member: range, roundrobin or cooperative-sticky (incremental: a rebalance moves only the partitions that change owner).")
    var assignment: GroupConsumerConf.AssignmentStrategy = .cooperativeSticky
    @Option(help: "Output: lines (the value) or json (one object per message).") var format: Format = .lines
    @Option(help: "Partitions of the topic on the embedded cluster.") var partitions = 4

    func validate() throws {
        guard retryLimit >= -1 else { throw ValidationError("--retry-limit must be -1 or more") }
        guard limit >= 0 else { throw ValidationError("--limit must not be negative") }
        guard startOffset != nil else { throw ValidationError("--start must be oldest, newest or a non-negative offset") }
        guard (1000...3_600_000).contains(sessionTimeout) else { throw ValidationError("--session-timeout must be 1000 to 3600000 ms") }
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
            let broker = try ExampleSupport.dial(addresses, clientID: "kafka-consume", security: security)
            defer { broker.close() }
            if let group, partitionList.isEmpty {
                try await consumeAsMember(of: group, broker)
                return
            }
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

    /// Reads as a member of `group` until the retry limit, the message limit or SIGTERM/SIGINT,
    /// then commits what was printed and leaves the group.
    private func consumeAsMember(of group: String, _ broker: Broker) async throws {
        var conf = GroupConsumerConf(group: group, topics: [topic])
        conf.startOffset = startOffset == .newest ? .newest : .oldest
        conf.retryLimit = retryLimit
        conf.retryWait = .milliseconds(50)  // --retry-limit counts waits of 100 ms, as for partitions
        conf.assignmentStrategy = assignment
        conf.sessionTimeout = .milliseconds(sessionTimeout)
        conf.heartbeatInterval = .milliseconds(max(100, sessionTimeout / 10))
        conf.commitPolicy = .automatic(interval: .seconds(1))
        conf.rebalance.onAssigned = { ExampleSupport.note("kafka-consume: assigned \($0.partitions.map(\.description).joined(separator: " "))") }
        conf.rebalance.onRevoked = { ExampleSupport.note("kafka-consume: revoked \($0.partitions.map(\.description).joined(separator: " "))") }
        let member = try await broker.groupConsumer(conf)
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let stops = [SIGINT, SIGTERM].map { number in
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler { member.close() }  // commits what was handed out, leaves the group
            source.resume()
            return source
        }
        defer { stops.forEach { $0.cancel() } }
        let progress = Progress("consumed")
        while limit == 0 || progress.count < limit {
            let message: Message
            do {
                message = try await member.consume()
            } catch KafkaError.noData {
                break
            } catch KafkaError.closed {
                break
            }
            // Written at once, so a process stopped mid-stream has printed everything it commits.
            FileHandle.standardOutput.write(Data((render(message) + "\n").utf8))
            progress.add(1, bytes: message.value?.count ?? 0)
        }
        member.close()
        progress.finish(" from \(topic) as a member of group \(group)")
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


extension GroupConsumerConf.AssignmentStrategy: ExpressibleByArgument {}
