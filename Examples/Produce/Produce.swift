import ArgumentParser
import ExampleSupport
import Foundation
import Kafka
import KafkaEmbedded

/// Writes messages to a topic: generated ones or one per line of standard input.
@main
struct Produce: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka-produce",
        abstract: "Write messages to a Kafka topic (an embedded cluster when --brokers is not given)."
    )

    enum Strategy: String, ExpressibleByArgument, CaseIterable { case random, roundRobin = "round-robin", hash }
    enum Acks: String, ExpressibleByArgument, CaseIterable { case none, local, all }

    @OptionGroup(title: "TLS and SASL") var security: SecurityOptions
    @Option(help: "Comma-separated host:port list; without it an embedded cluster is started.") var brokers: String?
    @Option(help: "Topic to write to.") var topic = "example"
    @Option(help: "Partition to write to (ignored with --strategy).") var partition: Int32 = 0
    @Option(help: "Distribute over the topic's partitions: random, round-robin or hash (by key).") var strategy: Strategy?
    @Option(help: "Number of generated messages.") var count = 10
    @Option(help: "Size of each generated value in bytes (0: the text \"message N\").") var size = 0
    @Option(help: "Messages per produce call.") var batch = 100
    @Option(help: "Key of message N is this prefix followed by N modulo --key-count.") var keyPrefix = "key-"
    @Option(help: "Number of distinct keys.") var keyCount = 10
    @Flag(help: "Read values from standard input, one message per line.") var stdin = false
    @Option(help: "Required acks: none, local or all.") var acks: Acks = .all
    @Option(help: "Compression: none, gzip, snappy, lz4 or zstd.") var compression = "none"
    @Option(help: "Partitions of the topic on the embedded cluster.") var partitions = 4
    @Flag(help: "Send each message with the service producer (Sender): placed by its key with Java's murmur2, batched across sends, idempotent; the receipts are awaited at the end. Ignores --partition, --strategy and --batch.")
    var send = false

    func validate() throws {
        guard count >= 0 else { throw ValidationError("--count must not be negative") }
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        guard size >= 0 else { throw ValidationError("--size must not be negative") }
        guard keyCount >= 1 else { throw ValidationError("--key-count must be at least 1") }
        guard Compression.allCases.contains(where: { $0.librdkafkaName == compression }) else {
            throw ValidationError("--compression must be one of none, gzip, snappy, lz4, zstd")
        }
    }

    func run() async throws {
        await ExampleSupport.run("kafka-produce") {
            var embedded: MockCluster?
            let addresses = try ExampleSupport.addresses(brokers: brokers, topic: topic, partitions: partitions, program: "kafka-produce", embedded: &embedded)
            let broker = try ExampleSupport.dial(addresses, clientID: "kafka-produce", security: security)
            defer { broker.close() }
            var conf = ProducerConf()
            conf.requiredAcks = switch acks { case .none: .none; case .local: .local; case .all: .all }
            conf.compression = Compression.allCases.first { $0.librdkafkaName == compression } ?? .none
            if send {
                try await sendAll(broker, compression: conf.compression)
                return
            }
            let producer = try broker.producer(conf)
            let write = try writer(producer, broker)
            let progress = Progress("produced")
            var pending: [Message] = []
            func flush() async throws {
                guard !pending.isEmpty else { return }
                try await write(&pending)
                progress.add(pending.count, bytes: pending.reduce(0) { $0 + ($1.value?.count ?? 0) })
                pending.removeAll(keepingCapacity: true)
            }
            for (index, value) in values().enumerated() {
                pending.append(Message(key: Array("\(keyPrefix)\(index % keyCount)".utf8), value: value))
                if pending.count == batch || strategy == .hash { try await flush() }
            }
            try await flush()
            progress.finish(" to \(topic)")
        }
    }

    /// Sends every value with a ``Sender`` and awaits the receipts; throws when any delivery failed.
    private func sendAll(_ broker: Broker, compression: Compression) async throws {
        var conf = SenderConf()
        conf.compression = compression
        // Idempotence needs acknowledgements from all in-sync replicas.
        conf.idempotent = acks == .all
        if acks != .all { conf.properties["acks"] = acks == .none ? "0" : "1" }
        let sender = try broker.sender(conf)
        let progress = Progress("sent")
        var receipts: [DeliveryReceipt] = []
        for (index, value) in values().enumerated() {
            receipts.append(try await sender.send(Message(key: Array("\(keyPrefix)\(index % keyCount)".utf8), value: value), to: topic))
            progress.add(1, bytes: value.count)
        }
        var failures: [String] = []
        var perPartition: [Int32: Int] = [:]
        for receipt in receipts {
            do {
                perPartition[try await receipt.delivered().partition, default: 0] += 1
            } catch {
                failures.append("\(receipt.topic)/\(receipt.partition): \(error)")
            }
        }
        progress.finish(" to \(topic), by partition " + perPartition.keys.sorted().map { "\($0): \(perPartition[$0] ?? 0)" }.joined(separator: ", "))
        if let first = failures.first { throw DeliveriesFailed(text: "\(failures.count) of \(receipts.count) deliveries failed, the first: \(first)") }
    }

    /// Some sent messages were not delivered.
    struct DeliveriesFailed: Error, CustomStringConvertible {
        let text: String
        var description: String { text }
    }

    /// The values to send: standard input lines, or generated ones.
    private func values() -> AnySequence<[UInt8]> {
        if stdin {
            return AnySequence(AnyIterator { readLine(strippingNewline: true).map { Array($0.utf8) } })
        }
        let filler = [UInt8](repeating: UInt8(ascii: "x"), count: size)
        return AnySequence((0..<count).lazy.map { size == 0 ? Array("message \($0)".utf8) : filler })
    }

    /// One produce call per batch, to --partition or through the chosen distributing producer.
    private func writer(_ producer: BrokerProducer, _ broker: Broker) throws -> (inout [Message]) async throws -> Void {
        guard let strategy else {
            return { messages in _ = try await producer.produce(topic, partition: partition, messages: &messages) }
        }
        let partitionCount = try broker.partitionCount(topic)
        let distributor: any DistributingProducer = switch strategy {
        case .random: RandomProducer(producer, partitions: partitionCount)
        case .roundRobin: RoundRobinProducer(producer, partitions: partitionCount)
        case .hash: HashProducer(producer, partitions: partitionCount)
        }
        return { messages in _ = try await distributor.distribute(topic, messages: &messages) }
    }
}

