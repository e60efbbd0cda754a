import ArgumentParser
import ExampleSupport
import Foundation
import Kafka
import KafkaServiceLifecycle
import Logging
import ServiceLifecycle
import Synchronization

/// A consuming service: reads its input topic as a member of a consumer group, writes one
/// result per input message to its output topic, and commits an input message only after its
/// result was acknowledged. SIGTERM or SIGINT shut it down gracefully through a `ServiceGroup`:
/// the processing loop stops after the message in hand, the group consumer leaves the group,
/// and what producers have in flight gets a grace period.
///
/// With `--exactly-once`, each batch of inputs is processed in one Kafka transaction: its results
/// and its inputs' offsets commit together (see `ExactlyOnceLoop`), so after a crash or a
/// SIGTERM and a restart every input has exactly one committed result, as read-committed
/// consumers see it.
@main
struct ServiceExample: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kafka-service",
        abstract: "Consume a topic as a group member, produce a result per message, shut down gracefully on SIGTERM."
    )

    @OptionGroup(title: "TLS and SASL") var security: SecurityOptions
    @Option(help: "Comma-separated host:port list.") var brokers: String
    @Option(help: "Topic to read.") var input: String
    @Option(help: "Topic to write results to.") var output: String
    @Option(help: "Consumer group.") var group = "kafka-service"
    @Option(help: "Session timeout in milliseconds.") var sessionTimeout = 10_000
    @Flag(help: "Process each batch in a transaction: results and input offsets commit together.") var exactlyOnce = false
    @Option(help: "Transactional id with --exactly-once (default: kafka-service-GROUP); stable across restarts.")
    var transactionalID: String?
    @Option(help: "Handle up to N messages at once (ProcessingLoop): messages of one key stay in order, commits never pass an unfinished one.")
    var concurrency: Int?

    func validate() throws {
        if let concurrency, concurrency < 1 { throw ValidationError("--concurrency must be at least 1") }
        if concurrency != nil, exactlyOnce { throw ValidationError("--concurrency and --exactly-once do not combine") }
    }

    func run() async throws {
        await ExampleSupport.run("kafka-service") {
            let addresses = brokers.split(separator: ",").map(String.init)
            let broker = try ExampleSupport.dial(addresses, clientID: "kafka-service", security: security)
            var conf = GroupConsumerConf(group: group, topics: [input])
            conf.commitPolicy = .manual
            conf.assignmentStrategy = .cooperativeSticky
            conf.sessionTimeout = .milliseconds(sessionTimeout)
            conf.heartbeatInterval = .milliseconds(max(100, sessionTimeout / 10))
            let processed = ProcessedCount()
            if let concurrency {
                try await runConcurrently(broker: broker, conf: conf, concurrency: concurrency, processed: processed)
                return
            }
            let consumer = try await broker.groupConsumer(conf)
            let processor: any Service
            if exactlyOnce {
                let producer = try await broker.transactionalProducer(TransactionalProducerConf(transactionalID: transactionalID ?? "kafka-service-\(group)"))
                processor = ExactlyOnceProcessor(loop: ExactlyOnceLoop(consumer: consumer, producer: producer, output: output), processed: processed)
            } else {
                processor = Processor(consumer: consumer, producer: try broker.producer(), output: output, processed: processed)
            }
            var logger = Logger(label: "kafka-service")
            logger.logLevel = .notice
            let services = ServiceGroup(configuration: .init(
                services: [
                    .init(service: KafkaService(broker: broker, groupConsumers: [consumer])),
                    .init(service: processor, successTerminationBehavior: .gracefullyShutdownGroup),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            ))
            try await services.run()
            ExampleSupport.note("kafka-service: processed \(processed.value) messages; shut down")
        }
    }
}

extension ServiceExample {
    /// `--concurrency N`: a ``ProcessingLoop`` writes one result per input, up to N at once, in
    /// order per key; graceful shutdown lets the handlers in flight finish, then commits.
    func runConcurrently(broker: Broker, conf: GroupConsumerConf, concurrency: Int, processed: ProcessedCount) async throws {
        let producer = try broker.producer()
        var processing = ProcessingConf()
        processing.concurrency = concurrency
        let output = output
        let loop = try ProcessingLoop(broker: broker, group: conf, conf: processing) { message in
            let result = "\(message.topic)/\(message.partition)/\(message.offset): \(String(decoding: message.value ?? [], as: UTF8.self))"
            try await producer.produce(output, partition: message.partition, messages: [Message(value: result)])
            processed.increment()
        }
        var logger = Logger(label: "kafka-service")
        logger.logLevel = .notice
        let services = ServiceGroup(configuration: .init(
            services: [
                .init(service: KafkaService(broker: broker, groupConsumers: [loop.consumer])),
                .init(service: ConcurrentProcessor(loop: loop), successTerminationBehavior: .gracefullyShutdownGroup),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
        try await services.run()
        ExampleSupport.note("kafka-service: processed \(processed.value) messages with up to \(concurrency) at once; shut down")
    }
}

/// The concurrent loop as a service: graceful shutdown cancels it; handlers in flight finish
/// (within the loop's deadline) and what they handled is committed.
struct ConcurrentProcessor: Service {
    let loop: ProcessingLoop<GroupConsumer>

    func run() async throws {
        try await cancelWhenGracefulShutdown { try await loop.run() }
    }
}

/// The processing loop: one result per input message, then the input's commit.
struct Processor: Service {
    let consumer: GroupConsumer
    let producer: BrokerProducer
    let output: String
    let processed: ProcessedCount

    func run() async throws {
        // The sequence ends once graceful shutdown begins (a wait for the next message is
        // cancelled); the message in hand is finished: its result written, then its commit.
        do {
            for try await message in consumer.cancelOnGracefulShutdown() {
                let result = "\(message.topic)/\(message.partition)/\(message.offset): \(String(decoding: message.value ?? [], as: UTF8.self))"
                try await producer.produce(output, partition: message.partition, messages: [Message(value: result)])
                try await consumer.commit(message)
                processed.increment()
            }
        } catch is CancellationError {
            // Shutdown while waiting for a message: nothing was in hand.
        }
    }
}

/// The exactly-once loop as a service: graceful shutdown cancels it, which aborts the batch in
/// hand (its inputs are read again after a restart) unless its commit began.
struct ExactlyOnceProcessor: Service {
    let loop: ExactlyOnceLoop<TransactionalProducer, GroupConsumer>
    let processed: ProcessedCount

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                try await loop.run { processed.add($0) }
            }
        } catch is CancellationError {
            // Shutdown: the open transaction was aborted, or its commit finished.
        }
        await loop.producer.shutdown()
    }
}

/// How many messages were processed.
final class ProcessedCount: Sendable {
    private let count = Atomic<Int>(0)
    func increment() { count.add(1, ordering: .relaxed) }
    func add(_ value: Int) { count.add(value, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}
