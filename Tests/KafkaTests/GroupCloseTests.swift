import Foundation
import Kafka
import KafkaTest
import Testing
import KafkaTestSupport

@Suite("Group consumer close is bounded", .ownThreads, .timeLimit(.minutes(2)))
struct GroupCloseTests {
    @Test("close() with a coordinator that does not answer returns within closeTimeout plus one second", arguments: [true, false])
    func unresponsiveCoordinator(automaticCommits: Bool) throws {
        let cluster = try MockCluster(brokers: 1, topics: ["slow": 1])
        defer { cluster.close() }
        let broker = try Broker.dial(cluster.addresses)
        defer { broker.close() }
        try broker.producer().produce("slow", partition: 0, messages: (0..<5).map { Message(value: "m\($0)") })
        let member = try broker.groupConsumer(quickGroup("stuck", ["slow"]) {
            $0.closeTimeout = .seconds(2)
            if !automaticCommits { $0.commitPolicy = .manual }
        })
        #expect(try member.consume().offset == 0)
        // Every answer of the only broker (the coordinator) now takes longer than the test.
        try cluster.setRTT(broker: 1, .seconds(60))
        let start = ContinuousClock.now
        member.close()
        let took = ContinuousClock.now - start
        #expect(took < .seconds(3), "close took \(took)")
        #expect(throws: KafkaError.closed) { try member.consume() }
    }

    @Test("Broker.close() with a group member open and a coordinator that does not answer keeps its one-second bound")
    func brokerCloseWithMemberOpen() throws {
        let cluster = try MockCluster(brokers: 1, topics: ["slow-broker": 1])
        defer { cluster.close() }
        let broker = try Broker.dial(cluster.addresses)
        try broker.producer().produce("slow-broker", partition: 0, messages: (0..<5).map { Message(value: "m\($0)") })
        let member = try broker.groupConsumer(quickGroup("stuck-broker", ["slow-broker"]) { $0.closeTimeout = .seconds(30) })
        #expect(try member.consume().offset == 0)
        try cluster.setRTT(broker: 1, .seconds(60))
        let start = ContinuousClock.now
        broker.close()
        let took = ContinuousClock.now - start
        // The bound, plus slack for the other handles' teardown on a loaded machine; the member's
        // own close would take its 30 s closeTimeout.
        #expect(took < Broker.closeBound + .seconds(2), "Broker.close() took \(took)")
        #expect(throws: KafkaError.closed) { try member.consume() }
    }

    @Test("shutdown() async is bounded as close() is, and a cancelled caller stops waiting at once")
    func asyncShutdown() async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["slow-async": 1])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        try await broker.producer().produce("slow-async", partition: 0, messages: (0..<5).map { Message(value: "m\($0)") })
        let first = try await broker.groupConsumer(quickGroup("stuck-async", ["slow-async"]) { $0.closeTimeout = .seconds(2) })
        #expect(try await first.consume().offset == 0)
        try cluster.setRTT(broker: 1, .seconds(60))
        // Measured where the call ended, on a thread of its own, not when this test's continuation
        // got one of the test pool's threads back (5.1 s seen with the whole suite running).
        let shutdown = OffPoolTask { await first.shutdown() }
        let start = ContinuousClock.now
        try await shutdown.task.value
        let took = try #require(shutdown.endedAfter(start))
        // closeTimeout plus one second, as close().
        #expect(took < .seconds(4), "shutdown() took \(took)")
        await #expect(throws: KafkaError.closed) { try await first.consume() }

        // A second member with a long bound: its caller is cancelled while the close waits.
        try cluster.setRTT(broker: 1, .zero)
        let second = try await broker.groupConsumer(quickGroup("stuck-cancel", ["slow-async"]) { $0.closeTimeout = .seconds(30) })
        #expect(try await second.consume().offset == 0)
        try cluster.setRTT(broker: 1, .seconds(60))
        let closing = OffPoolTask { await second.shutdown() }
        // Cancel once the close began (the member refuses calls from then on).
        let began = ContinuousClock.now + .seconds(5)
        while (try? second.assignment()) != nil {
            guard ContinuousClock.now < began else { Issue.record("close did not begin within 5 s"); break }
            await Task.yield()
        }
        let cancelledAt = closing.cancel()
        try await closing.task.value
        // Measured where the call ended, on its own thread: the test pool's scheduling on a loaded
        // machine (9.5 s seen) is not the library's. At once, next to the 30 s the close may take.
        let waited = try #require(closing.endedAfter(cancelledAt))
        #expect(waited < .seconds(2), "a cancelled shutdown() waited \(waited)")
        await #expect(throws: KafkaError.closed) { try await second.consume() }
    }
}
