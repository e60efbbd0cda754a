import InMemoryTracing
import Kafka
import KafkaTest
import KafkaTracing
import Synchronization
import Testing
import KafkaTestSupport
import Tracing

/// Two tracers with distinct ids stand for two processes: the consumer side learns the producer's
/// span only from the record headers.
private func processTracer(_ name: String) -> InMemoryTracer {
    let traces = Counter(), spans = Counter()
    return InMemoryTracer(idGenerator: .init(
        nextTraceID: { "\(name)-trace-\(traces.next())" },
        nextSpanID: { "\(name)-span-\(spans.next())" }
    ))
}

private final class Counter: Sendable {
    private let value = Mutex(0)
    func next() -> Int { value.withLock { $0 += 1; return $0 } }
}

private func string(_ attributes: SpanAttributes, _ key: String) -> String? {
    if case .string(let value) = attributes.get(key) { return value }
    return nil
}

private func int(_ attributes: SpanAttributes, _ key: String) -> Int64? {
    if case .int64(let value) = attributes.get(key) { return value }
    return nil
}

private func bool(_ attributes: SpanAttributes, _ key: String) -> Bool? {
    if case .bool(let value) = attributes.get(key) { return value }
    return nil
}

private typealias A = MessagingAttribute

@Suite("KafkaTracing", .ownThreads, .serialized, .timeLimit(.minutes(3)))
struct KafkaTracingTests {
    @Test("a traced sender's span names the topic and the partition it placed the record on, and the record carries its context")
    func tracedSender() async throws {
        let broker = MockBroker()
        defer { broker.close() }
        broker.createTopic("events", partitions: 4)
        let tracer = processTracer("s")
        let sender = TracingSender(try broker.sender(), tracer: tracer)
        let receipt = try await tracer.withSpan("request") { _ in
            try await sender.send(Message(key: "user-7", value: "v"), to: "events", partition: nil)
        }
        let delivery = try await receipt.delivered()
        let spans = tracer.finishedSpans
        let request = try #require(spans.first { $0.operationName == "request" })
        let send = try #require(spans.first { $0.operationName == "send events" })
        #expect(send.kind == .producer)
        #expect(send.parentSpanID == request.spanID)
        #expect(string(send.attributes, A.partitionID) == String(delivery.partition))
        let stored = try #require(broker.messages("events", partition: delivery.partition).first)
        #expect(!stored.headers.isEmpty, "the record carries the send span's context")
        await #expect(throws: KafkaError.self) { try await sender.send(Message(value: "x"), to: "missing", partition: nil) }
        #expect(tracer.finishedSpans.last?.status?.code == .error)
    }

    @Test("a span around produce is the parent of the consumer's process span in another process, and linked from its receive span")
    func endToEnd() async throws {
        try await withMockCluster(brokers: 1, topics: ["t": 1]) { cluster in
            let producerTracer = processTracer("p")
            let consumerTracer = processTracer("c")

            // Process 1: a request span around a produce.
            let producerBroker = try await Broker.dial(cluster.addresses)
            defer { producerBroker.close() }
            let producer = TracingProducer(try producerBroker.producer(), tracer: producerTracer)
            _ = try await producerTracer.withSpan("request") { _ in
                try await producer.produce("t", partition: 0, messages: [Message(key: "k", value: "v")])
            }
            let produced = producerTracer.finishedSpans
            let request = try #require(produced.first { $0.operationName == "request" })
            let send = try #require(produced.first { $0.operationName == "send t" })
            #expect(send.kind == .producer)
            #expect(send.traceID == request.traceID)
            #expect(send.parentSpanID == request.spanID)
            #expect(string(send.attributes, A.system) == "kafka")
            #expect(string(send.attributes, A.operationType) == "send")
            #expect(string(send.attributes, A.destinationName) == "t")
            #expect(string(send.attributes, A.partitionID) == "0")
            #expect(int(send.attributes, A.offset) == 0)
            #expect(send.attributes.get(A.batchMessageCount) == nil)
            #expect(send.status == nil)

            // Process 2: its own broker and tracer; only the headers connect it to process 1.
            let consumerBroker = try await Broker.dial(cluster.addresses)
            defer { consumerBroker.close() }
            var conf = ConsumerConf(topic: "t", partition: 0)
            conf.startOffset = .oldest
            conf.retryLimit = 100
            let consumer = TracingConsumer(try await consumerBroker.consumer(conf), consumerGroup: "billing", tracer: consumerTracer)
            let message = try await consumer.consume()
            #expect(message.headers.map(\.key).sorted() == [InMemoryTracer.spanIDKey, InMemoryTracer.traceIDKey].sorted())

            let receive = try #require(consumerTracer.finishedSpans.first { $0.operationName == "receive t" })
            #expect(receive.kind == .consumer)
            #expect(receive.traceID != request.traceID)           // the poll is not part of the request
            #expect(receive.links.count == 1)
            let receiveLink = try #require(receive.links.first?.context.inMemorySpanContext)
            #expect(receiveLink.traceID == send.traceID)
            #expect(receiveLink.spanID == send.spanID)
            #expect(string(receive.attributes, A.operationType) == "receive")
            #expect(string(receive.attributes, A.consumerGroup) == "billing")
            #expect(int(receive.attributes, A.offset) == 0)

            let handled = try await consumer.withConsumeSpan(message) { span in
                try await Task.sleep(for: .milliseconds(1))   // the async overload
                // Spans started in the body are children of the process span.
                return consumerTracer.withSpan("handle") { _ in span.context.inMemorySpanContext?.spanID }
            }
            let finished = consumerTracer.finishedSpans
            let process = try #require(finished.first { $0.operationName == "process t" })
            #expect(process.kind == .consumer)
            #expect(process.traceID == request.traceID)            // the producer's trace goes on
            #expect(process.parentSpanID == send.spanID)
            let processLink = try #require(process.links.first?.context.inMemorySpanContext)
            #expect(processLink.spanID == send.spanID)
            #expect(string(process.attributes, A.system) == "kafka")
            #expect(string(process.attributes, A.operationType) == "process")
            #expect(string(process.attributes, A.operationName) == "process")
            #expect(string(process.attributes, A.destinationName) == "t")
            #expect(string(process.attributes, A.partitionID) == "0")
            #expect(int(process.attributes, A.offset) == 0)
            #expect(string(process.attributes, A.consumerGroup) == "billing")
            let handle = try #require(finished.first { $0.operationName == "handle" })
            #expect(handled == process.spanID)
            #expect(handle.parentSpanID == process.spanID)
        }
    }

    @Test("a batch: one send span injected into every message, one receive span linked to it per message")
    func batch() async throws {
        try await withMockCluster(brokers: 1, topics: ["t": 1]) { cluster in
            let tracer = processTracer("b")
            let broker = try await Broker.dial(cluster.addresses)
            defer { broker.close() }
            let producer = TracingProducer(try broker.producer(), tracer: tracer)
            var messages = (0..<3).map { Message(value: "m\($0)") }
            try await producer.produce("t", partition: 0, messages: &messages)
            let send = try #require(tracer.finishedSpans.first { $0.operationName == "send t" })
            #expect(int(send.attributes, A.batchMessageCount) == 3)
            #expect(int(send.attributes, A.offset) == 0)
            #expect(send.parentSpanID == nil)

            var conf = ConsumerConf(topic: "t", partition: 0)
            conf.startOffset = .oldest
            conf.retryLimit = 100
            let consumer = TracingConsumer(try await broker.consumer(conf), tracer: tracer)
            var batch: [Message] = []
            while batch.count < 3 { batch += try await consumer.consumeBatch() }
            #expect(batch.allSatisfy { $0.headers.count == 2 && $0.topic == "t" })
            let receives = tracer.finishedSpans.filter { $0.operationName == "receive t" }
            #expect(receives.flatMap(\.links).count == 3, "spans: \(tracer.finishedSpans.map { ($0.operationName, $0.links.count) })")
            #expect(receives.flatMap(\.links).allSatisfy { $0.context.inMemorySpanContext?.spanID == send.spanID })
            if receives.count == 1 { #expect(int(receives[0].attributes, A.batchMessageCount) == 3) }
            #expect(receives.allSatisfy { $0.attributes.get(A.consumerGroup) == nil })

            // ConsumeSpanParent.current: the caller's span is the parent, the producer only a link.
            let loopSpanID = tracer.withSpan("loop") { loop in
                consumer.withConsumeSpan(batch[1], parent: .current) { _ in }
                return loop.context.inMemorySpanContext?.spanID
            }
            let process = try #require(tracer.finishedSpans.first { $0.operationName == "process t" })
            #expect(process.parentSpanID == loopSpanID)
            #expect(process.links.first?.context.inMemorySpanContext?.spanID == send.spanID)
            #expect(int(process.attributes, A.offset) == 1)
        }
    }

    @Test("a processing loop's handler wrapped in ProcessingSpans: one process span per message, failures recorded")
    func processingSpans() async throws {
        let tracer = processTracer("p")
        let broker = MockBroker(topics: ["jobs": 1])
        defer { broker.close() }
        broker.addMessages("jobs", partition: 0, [Message(key: "a", value: "ok"), Message(key: "b", value: "bad"), Message(key: "c", value: "ok")])
        var group = GroupConsumerConf(group: "workers", topics: ["jobs"])
        group.retryLimit = -1
        var conf = ProcessingConf()
        conf.failure = .retry(attempts: 1, backoff: .zero, then: .deadLetter(topic: "jobs.dlq"))
        broker.createTopic("jobs.dlq", partitions: 1)
        let handled = Mutex(0)
        let spans = ProcessingSpans(consumerGroup: "workers", tracer: tracer)
        let loop = try ProcessingLoop(broker: broker, group: group, conf: conf, handler: spans.wrap { message in
            defer { handled.withLock { $0 += 1 } }
            if message.value == Array("bad".utf8) { throw KafkaError.invalidArgument("bad job") }
        })
        let running = Task { try await loop.run() }
        let deadline = ContinuousClock.now + .seconds(30)
        while handled.withLock({ $0 }) < 3, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        running.cancel()
        try await running.value
        let process = tracer.finishedSpans.filter { $0.operationName == "process jobs" }
        #expect(process.count == 3)
        #expect(Set(process.compactMap { int($0.attributes, A.offset) }) == [0, 1, 2])
        #expect(process.allSatisfy { string($0.attributes, A.consumerGroup) == "workers" })
        let failed = try #require(process.first { int($0.attributes, A.offset) == 1 })
        #expect(failed.status?.code == .error)
        #expect(failed.errors.count == 1)
    }

    @Test("a failed produce records the error on the send span and rethrows")
    func failure() throws {
        let tracer = processTracer("f")
        let producer = TracingProducer(FailingProducer(), tracer: tracer)
        #expect(throws: KafkaError.self) {
            try producer.produce("t", partition: 0, messages: [Message(value: "v")])
        }
        let send = try #require(tracer.finishedSpans.first)
        #expect(send.status?.code == .error)
        #expect(send.errors.count == 1)
        #expect(string(send.attributes, A.errorType) == "unknownTopicOrPartition")
    }

    @Test("the distributing wrapper sets the partition the base chose")
    func distributing() throws {
        let tracer = processTracer("d")
        let producer = TracingDistributingProducer(HashProducer(RecordingProducer(), partitions: 4), tracer: tracer)
        var messages = [Message(key: "user-1", value: "x")]
        try producer.distribute("t", messages: &messages)
        let send = try #require(tracer.finishedSpans.first)
        #expect(send.operationName == "send t")
        #expect(string(send.attributes, A.partitionID) == String(messages[0].partition))
        #expect(messages[0].headers.contains { $0.key == InMemoryTracer.spanIDKey })
    }

    @Test("off by default: without a tracer the wrappers add no header and start no span")
    func off() throws {
        #expect(InstrumentationSystem.tracer is NoOpTracer)   // nothing bootstrapped in this test process
        for producer in [TracingProducer(RecordingProducer()), TracingProducer(RecordingProducer(), tracer: NoOpTracer())] {
            var messages = [Message(value: "v", headers: [Header(key: "h", value: [1])])]
            try producer.produce("t", partition: 0, messages: &messages)
            #expect(messages[0].headers == [Header(key: "h", value: [1])])
        }
    }

    @Test("the installed tracer is used when none is passed (withTracer, no global bootstrap)")
    func installedTracer() throws {
        let tracer = processTracer("i")
        let producer = TracingProducer(RecordingProducer())
        var messages = [Message(value: "v")]
        _ = try withTracer(tracer) {
            try producer.produce("t", partition: 2, messages: &messages)
        }
        #expect(tracer.finishedSpans.map(\.operationName) == ["send t"])
        #expect(messages[0].headers.count == 2)
    }

    @Test("the header injector replaces a key already there; the extractor reads the first valid value")
    func headers() {
        var headers = [Header(key: "traceparent", value: Array("old".utf8)), Header(key: "x", value: nil),
                       Header(key: "traceparent", value: Array("older".utf8))]
        HeaderInjector().inject("new", forKey: "traceparent", into: &headers)
        HeaderInjector().inject("s", forKey: "tracestate", into: &headers)
        #expect(headers.map(\.key) == ["traceparent", "x", "tracestate"])
        #expect(HeaderExtractor().extract(key: "traceparent", from: headers) == "new")
        #expect(HeaderExtractor().extract(key: "x", from: headers) == "")
        #expect(HeaderExtractor().extract(key: "missing", from: headers) == nil)
        #expect(HeaderExtractor().extract(key: "b", from: [Header(key: "b", value: [0xFF]), Header(key: "b", value: [0x41])]) == "A")
    }
}

/// Accepts every produce and numbers the messages from 0.
private struct RecordingProducer: Producer {
    func produce(_ topic: String, partition: Int32, messages: inout [Message]) throws -> Int64 {
        Self.number(topic, partition, &messages)
    }

    func produce(_ topic: String, partition: Int32, messages: inout [Message]) async throws -> Int64 {
        Self.number(topic, partition, &messages)
    }

    private static func number(_ topic: String, _ partition: Int32, _ messages: inout [Message]) -> Int64 {
        for index in messages.indices {
            messages[index].topic = topic
            messages[index].partition = partition
            messages[index].offset = Int64(index)
        }
        return 0
    }
}

private struct FailingProducer: Producer {
    func produce(_ topic: String, partition: Int32, messages: inout [Message]) throws -> Int64 {
        throw KafkaError.broker(.unknownTopicOrPartition, message: "no such topic")
    }

    func produce(_ topic: String, partition: Int32, messages: inout [Message]) async throws -> Int64 {
        throw KafkaError.broker(.unknownTopicOrPartition, message: "no such topic")
    }
}
