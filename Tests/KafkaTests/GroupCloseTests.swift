import Foundation
import Kafka
import KafkaTest
import Testing

@Suite("Group consumer close is bounded", .timeLimit(.minutes(2)))
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
}
