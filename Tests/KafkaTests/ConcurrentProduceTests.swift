import Foundation
import Kafka
import KafkaTest
import KafkaTestSupport
import Testing

@Suite("Concurrent produce", .ownThreads)
struct ConcurrentProduceTests {
    /// True when each call's messages got consecutive offsets.
    static func contiguous(_ calls: [[Int64]]) -> Int {
        calls.filter { offsets in zip(offsets, offsets.dropFirst()).contains { $1 != $0 + 1 } }.count
    }

    @Test("4 threads × 60 blocking calls × 10 messages to one partition: every call's messages are contiguous")
    func blockingCallsDoNotInterleave() async throws {
        let cluster = try TestCluster(brokers: 1)
        let topic = try cluster.topic()
        let broker = try cluster.dial()
        defer { broker.close() }
        let producer = try broker.producer()
        let calls = try await withThrowingTaskGroup(of: [[Int64]].self) { group in
            for thread in 0..<4 {
                group.addTask {
                    try await onThread {
                        try (0..<60).map { call in
                            var messages = (0..<10).map { Message(value: "t\(thread)-c\(call)-m\($0)") }
                            try producer.produce(topic, partition: 0, messages: &messages)
                            return messages.map(\.offset)
                        }
                    }
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(calls.count == 240)
        #expect(Self.contiguous(calls) == 0, "\(Self.contiguous(calls)) of 240 calls were split")
        #expect(Set(calls.flatMap { $0 }).count == 2400)
    }

    @Test("async calls to one partition from 8 tasks keep each call's messages contiguous")
    func asyncCallsDoNotInterleave() async throws {
        let cluster = try TestCluster(brokers: 1)
        let topic = try cluster.topic()
        let broker = try cluster.dial()
        defer { broker.close() }
        let producer = try broker.producer()
        let calls = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for task in 0..<8 {
                for call in 0..<20 {
                    group.addTask {
                        var messages = (0..<25).map { Message(value: "t\(task)-c\(call)-m\($0)") }
                        try await producer.produce(topic, partition: 0, messages: &messages)
                        return messages.map(\.offset)
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(calls.count == 160)
        #expect(Self.contiguous(calls) == 0)
    }

    @Test("a cancelled async produce waiting for its acknowledgement throws CancellationError at once")
    func cancelWhileWaitingForAcks() async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["slow": 1])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        let producer = try broker.producer()
        try await producer.produce("slow", partition: 0, messages: [Message(value: "warm")])
        try cluster.setRTT(broker: 1, .seconds(30))
        let call = OffPoolTask { try await producer.produce("slow", partition: 0, messages: [Message(value: "late")]) }
        // Cancelled 200 ms after it began, from a thread of its own: this test's continuation may wait
        // for the cooperative pool (which parallel suites keep busy) longer than the message's timeout.
        let cancelled = try await onThread {
            Thread.sleep(forTimeInterval: 0.2)
            return call.cancel()
        }
        await #expect(throws: CancellationError.self) { try await call.task.value }
        // Measured where the call ended, on its own thread (its acknowledgement is 30 s away).
        #expect(try #require(call.endedAfter(cancelled)) < .milliseconds(500), "not at once (500 ms leaves room for a loaded machine's scheduler; the wait it cut short is seconds)")
    }

    @Test("a call cancelled before it starts writes nothing")
    func cancelBeforeStart() async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["never": 1])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        let producer = try broker.producer()
        let call = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await producer.produce("never", partition: 0, messages: [Message(value: "x")])
        }
        await #expect(throws: CancellationError.self) { try await call.value }
        #expect(try await broker.offsetLatest("never", partition: 0) == 0)
    }
}
