import Foundation
@testable import Kafka
import Synchronization
import Testing
import KafkaTestSupport

@Suite("DeliveryReceipt: one outcome, every waiter told once", .ownThreads, .timeLimit(.minutes(2)))
struct DeliveryReceiptTests {
    @Test("every awaiting task and blocked thread learns the one outcome; a second resolution changes nothing")
    func everyWaiterLearnsTheOutcome() async throws {
        let receipt = DeliveryReceipt(topic: "orders", partition: 2)
        let tasks = (0..<8).map { _ in Task { try await receipt.delivered() } }
        let threadResults = Mutex<[Delivery]>([])
        let threadsDone = DispatchGroup()
        for _ in 0..<3 {
            threadsDone.enter()
            Thread.detachNewThread {
                defer { threadsDone.leave() }
                if let delivery = try? receipt.wait() { threadResults.withLock { $0.append(delivery) } }
            }
        }
        try await eventuallyAsync("8 tasks and 3 threads wait") { receipt.waiting == 11 }
        #expect(receipt.outcome == nil)
        #expect(receipt.resolveDelivered(offset: 41))
        let expected = Delivery(topic: "orders", partition: 2, offset: 41)
        for task in tasks { #expect(try await task.value == expected) }
        threadsDone.wait()
        #expect(threadResults.withLock { $0 } == [expected, expected, expected])
        #expect(receipt.waiting == 0)
        #expect(!receipt.resolve(.failure(.closed)))
        #expect(!receipt.resolveDelivered(offset: 99))
        #expect(try receipt.outcome?.get() == expected)
        #expect(try await receipt.delivered() == expected)
        #expect(try receipt.wait() == expected)
    }

    @Test("a failure reaches awaiters, later callers and the outcome as the same KafkaError")
    func failure() async throws {
        let receipt = DeliveryReceipt(topic: "orders", partition: 0)
        let waiting = Task { try await receipt.delivered() }
        try await eventuallyAsync("the task waits") { receipt.waiting == 1 }
        let error = KafkaError.broker(.messageSizeTooLarge, message: "too large")
        #expect(receipt.resolveFailed(error))
        await #expect(throws: error) { try await waiting.value }
        await #expect(throws: error) { try await receipt.delivered() }
        #expect(throws: error) { try receipt.wait() }
        #expect(receipt.outcome == .failure(error))
    }

    @Test("a delivery resolved elsewhere than the receipt's placement reads as given")
    func deliveryElsewhere() async throws {
        let receipt = DeliveryReceipt(topic: "orders", partition: 0)
        let moved = Delivery(topic: "orders", partition: 3, offset: 7)
        #expect(receipt.resolve(.success(moved)))
        #expect(try await receipt.delivered() == moved)
        #expect(receipt.partition == 0)
    }

    @Test("cancelling one awaiting task ends its wait with CancellationError; the others still learn the outcome")
    func cancellation() async throws {
        let receipt = DeliveryReceipt(topic: "orders", partition: 1)
        let first = Task { try await receipt.delivered() }
        try await eventuallyAsync("the first task waits") { receipt.waiting == 1 }
        let second = Task { try await receipt.delivered() }
        let third = Task { try await receipt.delivered() }
        try await eventuallyAsync("three tasks wait") { receipt.waiting == 3 }
        first.cancel()
        await #expect(throws: CancellationError.self) { try await first.value }
        second.cancel()
        await #expect(throws: CancellationError.self) { try await second.value }
        #expect(receipt.waiting == 1)
        let cancelledBefore = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await receipt.delivered()
        }
        await #expect(throws: CancellationError.self) { try await cancelledBefore.value }
        receipt.resolveDelivered(offset: 5)
        #expect(try await third.value.offset == 5)
        #expect(receipt.waiting == 0)
    }

    @Test("resolution racing registration never loses a waiter: 1,000 receipts, each awaited while it is resolved")
    func raceWithResolution() async throws {
        for round in 0..<1000 {
            let receipt = DeliveryReceipt(topic: "race", partition: 0)
            async let awaited = receipt.delivered()
            receipt.resolveDelivered(offset: Int64(round))
            #expect(try await awaited.offset == Int64(round))
        }
    }

    @Test("resolution racing a blocked thread's registration never loses it: 200 receipts, each waited for while it is resolved")
    func raceWithBlockedThreads() async throws {
        let receipts = (0..<200).map { _ in DeliveryReceipt(topic: "race", partition: 0) }
        let offsets = Mutex<[Int64]>([])
        let waiting = DispatchGroup()
        waiting.enter()
        Thread.detachNewThread {
            defer { waiting.leave() }
            for receipt in receipts {
                if let delivery = try? receipt.wait() { offsets.withLock { $0.append(delivery.offset) } }
            }
        }
        for (index, receipt) in receipts.enumerated() { receipt.resolveDelivered(offset: Int64(index)) }
        waiting.wait()
        #expect(offsets.withLock { $0 } == (0..<200).map(Int64.init))
    }
}
