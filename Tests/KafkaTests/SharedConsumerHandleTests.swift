import Foundation
@testable import Kafka
import KafkaTest
import Testing
import KafkaTestSupport

@Suite("Shared consumer handle", .ownThreads)
struct SharedConsumerHandleTests {
    @Test("consumers of 16 partitions share one librdkafka handle; each reads its own partition in order")
    func sixteenPartitionsOneHandle() throws {
        try withMockCluster(brokers: 3, topics: ["wide": 16]) { cluster in
            let broker = try Broker.dial(cluster.addresses)
            defer { broker.close() }
            let producer = try broker.producer()
            for partition in 0..<16 {
                try producer.produce("wide", partition: Int32(partition), messages: (0..<20).map { Message(value: "p\(partition)-\($0)") })
            }
            let consumers = try (0..<16).map { partition in
                var conf = ConsumerConf(topic: "wide", partition: Int32(partition))
                conf.retryLimit = 3
                return try broker.consumer(conf)
            }
            // One handle, so one handle's threads (main, internal, 3 brokers, bootstrap, poll), not 16
            // handles' worth. Counted by the broker's own accounting: a count of the process's threads
            // also counts those of the tests running beside this one (331 added in one run).
            #expect(broker.consumerHandleCount == 1)
            for (partition, consumer) in consumers.enumerated() {
                let values = try (0..<20).map { _ in String(decoding: try consumer.consume().value ?? [], as: UTF8.self) }
                #expect(values == (0..<20).map { "p\(partition)-\($0)" })
            }
        }
    }

    @Test("an Mx over 64 partition consumers adds one handle's threads and one worker thread, not 64 of each")
    func mxOverSixtyFourPartitions() throws {
        try withMockCluster(brokers: 1, topics: ["wide64": 64]) { cluster in
            let broker = try Broker.dial(cluster.addresses)
            defer { broker.close() }
            let producer = try broker.producer()
            for partition in 0..<64 { try producer.produce("wide64", partition: Int32(partition), messages: [Message(value: "p\(partition)")]) }
            let consumers = try (0..<64).map { partition in
                var conf = ConsumerConf(topic: "wide64", partition: Int32(partition))
                conf.retryLimit = 3
                return try broker.consumer(conf)
            }
            let mx = Mx.merge(consumers)
            defer { mx.close() }
            let values = try (0..<64).map { _ in String(decoding: try mx.consume().value ?? [], as: UTF8.self) }
            #expect(Set(values).count == 64)
            // Before sharing: 64 handles (about 6 threads each) and 64 worker threads, over 400. Now
            // one handle, by the broker's own accounting (the process's thread count also counts the
            // tests running beside this one: 331 threads came and went during it under ASan), and no
            // worker thread of its own per consumer, by name:
            #expect(broker.consumerHandleCount == 1)
            #expect(ThreadSampler.countByName().keys.filter { $0.hasPrefix("kafka-mx-worker") }.isEmpty, "\(ThreadSampler.countByName())")
        }
    }

    @Test("closing one consumer stops only its partition; the others go on, and the partition can be read again")
    func closeOneOfMany() throws {
        try withMockCluster(brokers: 1, topics: ["shared": 2]) { cluster in
            let broker = try Broker.dial(cluster.addresses)
            defer { broker.close() }
            let producer = try broker.producer()
            var conf = ConsumerConf(topic: "shared", partition: 0)
            conf.retryLimit = 3
            let first = try broker.consumer(conf)
            var otherConf = conf
            otherConf.partition = 1
            let second = try broker.consumer(otherConf)
            try producer.produce("shared", partition: 0, messages: [Message(value: "a")])
            try producer.produce("shared", partition: 1, messages: [Message(value: "b")])
            #expect(try first.consume().value == Array("a".utf8))
            first.close()
            #expect(throws: KafkaError.closed) { try first.consume() }
            try producer.produce("shared", partition: 1, messages: [Message(value: "c")])
            #expect(try second.consume().value == Array("b".utf8))
            #expect(try second.consume().value == Array("c".utf8))
            let again = try broker.consumer(conf)
            #expect(try again.consume().value == Array("a".utf8))
            #expect(broker.consumerHandleCount == 1)
        }
    }

    @Test("two consumers of the same partition each read every message (a second handle serves the second)")
    func samePartitionTwice() throws {
        try withMockCluster(brokers: 1, topics: ["twice": 1]) { cluster in
            let broker = try Broker.dial(cluster.addresses)
            defer { broker.close() }
            try broker.producer().produce("twice", partition: 0, messages: [Message(value: "x"), Message(value: "y")])
            var conf = ConsumerConf(topic: "twice", partition: 0)
            conf.retryLimit = 3
            let one = try broker.consumer(conf)
            let two = try broker.consumer(conf)
            // A batch returns as soon as one message is there: collect until both came.
            func offsets(_ consumer: BrokerConsumer) throws -> [Int64] {
                var read: [Int64] = []
                while read.count < 2 { read += try consumer.consumeBatch().map(\.offset) }
                return read
            }
            #expect(try offsets(one) == [0, 1])
            #expect(try offsets(two) == [0, 1])
            #expect(broker.consumerHandleCount == 2)
        }
    }

    @Test("consumers with different fetch settings get different handles")
    func settingsSplitHandles() throws {
        try withMockCluster(brokers: 1, topics: ["split": 2]) { cluster in
            let broker = try Broker.dial(cluster.addresses)
            defer { broker.close() }
            var fast = ConsumerConf(topic: "split", partition: 0)
            fast.requestTimeout = .milliseconds(10)
            let slow = ConsumerConf(topic: "split", partition: 1)
            let first = try broker.consumer(fast)
            let second = try broker.consumer(slow)
            #expect(broker.consumerHandleCount == 2)
            // A handle is retired with the last consumer reading through it.
            first.close()
            #expect(broker.consumerHandleCount == 1)
            second.close()
            #expect(broker.consumerHandleCount == 0)
        }
    }
}

@Suite("Embedded cluster", .ownThreads)
struct EmbeddedClusterTests {
    @Test("calls racing close() on a MockCluster throw closed or succeed, never crash")
    func concurrentClose() async throws {
        for _ in 0..<3 {
            let cluster = try MockCluster(brokers: 1)
            let callers = (0..<4).map { index in
                Task { try await onThread { () -> KafkaError? in
                    for round in 0..<20 {
                        do {
                            try cluster.createTopic("t\(index)-\(round)", partitions: 1)
                            try cluster.setRTT(broker: 1, .milliseconds(1))
                        } catch let error as KafkaError {
                            return error
                        }
                    }
                    return nil
                } }
            }
            let closer = Task { try await onThread { cluster.close() } }
            for caller in callers {
                let error = try await caller.value
                #expect(error == nil || error == .closed)
            }
            try await closer.value
            #expect(cluster.isClosed)
            #expect(throws: KafkaError.closed) { try cluster.createTopic("late") }
        }
    }

    @Test("the synchronous withMockCluster creates its topics and closes the cluster afterwards")
    func synchronousScope() throws {
        let kept = try withMockCluster(brokers: 1, topics: ["a": 3]) { cluster in
            let broker = try Broker.dial(cluster.addresses)
            defer { broker.close() }
            #expect(try broker.partitionCount("a") == 3)
            return cluster
        }
        #expect(kept.isClosed)
    }

    @Test("a bootstrap forwarder closed twice closes its socket once", .timeLimit(.minutes(1)))
    func forwarderDoubleClose() throws {
        let cluster = try MockCluster(brokers: 1)
        defer { cluster.close() }
        let port = UInt16(21000 + Int.random(in: 0..<8000))
        let forwarder = try BootstrapForwarder(port: port, target: cluster.addresses[0])
        forwarder.close()
        // A descriptor opened after the first close must survive the second.
        let pipe = Pipe()
        forwarder.close()
        pipe.fileHandleForWriting.write(Data("still open".utf8))
        try pipe.fileHandleForWriting.close()
        #expect(String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) == "still open")
        #expect(throws: KafkaError.self) { try BootstrapForwarder(port: port, target: "example.com:9092") }
    }
}
