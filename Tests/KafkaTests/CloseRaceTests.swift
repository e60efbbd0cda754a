import Foundation
@testable import Kafka
import KafkaTest
import Testing
import KafkaTestSupport

@Suite("Close races", .ownThreads)
struct CloseRaceTests {
    /// How many rounds: `CLOSE_RACE_ROUNDS`, default 100 in `make test` (1,000 is the soak figure).
    static let rounds = Int(ProcessInfo.processInfo.environment["CLOSE_RACE_ROUNDS"] ?? "") ?? 100

    @Test("closing a broker while producers, consumers and an Mx are blocked or in flight, from threads and tasks: no crash, no hang, no leaked handle")
    func closeWhileBusy() async throws {
        let cluster = try MockCluster(brokers: 1)
        defer { cluster.close() }
        try cluster.createTopic("race", partitions: 2)
        try cluster.createTopic("idle", partitions: 2)
        var outcomes: [String: Int] = [:]
        for _ in 0..<Self.rounds {
            let broker = try await Broker.dial(cluster.addresses)
            let producer = try broker.producer()
            let idle = try (0..<2).map { try broker.consumer(ConsumerConf(topic: "idle", partition: Int32($0))) }
            let mx = Mx.merge(idle)
            let blockedConsumer = try await broker.consumer(ConsumerConf(topic: "idle", partition: 0))
            let results = await withTaskGroup(of: String.self) { group in
                group.addTask { await Self.outcome { try await producer.produce("race", partition: 0, messages: [Message(value: "x")]) } }
                group.addTask { await Self.outcome { try await onThread { try producer.produce("race", partition: 1, messages: [Message(value: "y")]) } } }
                group.addTask { await Self.outcome { try await blockedConsumer.consume() } }
                group.addTask { await Self.outcome { try await onThread { try mx.consume() } } }
                group.addTask {
                    await Task.yield()
                    await withTaskGroup(of: Void.self) { closers in
                        closers.addTask { broker.close() }
                        closers.addTask { try? await onThread { broker.close() } }
                    }
                    mx.close()
                    return "closer"
                }
                var results: [String] = []
                for await result in group { results.append(result) }
                return results
            }
            for result in results { outcomes[result, default: 0] += 1 }
            #expect(broker.openHandleCount == 0)
        }
        let allowed: Set<String> = ["done", "closed", "mxClosed", "closer"]
        #expect(Set(outcomes.keys).isSubset(of: allowed), "\(outcomes)")
    }

    static func outcome<T>(_ body: () async throws -> T) async -> String {
        do {
            _ = try await body()
            return "done"
        } catch KafkaError.closed {
            return "closed"
        } catch KafkaError.mxClosed {
            return "mxClosed"
        } catch {
            return "unexpected: \(error)"
        }
    }
}
