import Foundation
@testable import Kafka
import KafkaTest
import Synchronization
import Testing
import KafkaTestSupport

@Suite("The call pool and Completion: bounded threads for blocking calls", .ownThreads, .timeLimit(.minutes(2)))
struct CallPoolTests {
    @Test("a pool never runs more threads than its limit, and runs every job in order")
    func limitAndOrder() throws {
        let pool = CallPool(limit: 2)
        let gate = Completion<Bool>()
        let order = Mutex<[Int]>([])
        let done = (0..<10).map { _ in Completion<Bool>() }
        for index in 0..<10 {
            pool.run {
                _ = try? gate.waitBlocking()
                order.withLock { $0.append(index) }
                done[index].finish(.success(true))
            }
        }
        #expect(pool.threadCount <= 2)
        gate.finish(.success(true))
        for completion in done { _ = try completion.waitBlocking() }
        #expect(pool.threadCount <= 2)
        #expect(order.withLock { $0 }.count == 10)
    }

    @Test("a blocking call made from a pool thread runs inline, so nested calls never wait for their own thread")
    func nestedCallsRunInline() throws {
        let pool = CallPool(limit: 1)
        let value = try pool.call { try pool.call { try pool.call { 42 } } }
        #expect(value == 42)
        #expect(pool.threadCount == 1)
    }

    @Test("a Completion hands its result to waiters that come before and after it, and close ends only waits without one")
    func completion() async throws {
        let early = Completion<Int>()
        let waiting = Task { try await early.wait() }
        early.finish(.success(7))
        #expect(try await waiting.value == 7)
        #expect(try early.waitBlocking() == 7)
        #expect(!early.finish(.success(8)), "the first result stays")
        early.close(with: .closed)
        #expect(try await early.wait() == 7)

        let closed = Completion<Int>()
        let blocked = Task { try await onThread { try closed.waitBlocking() } }
        let suspended = Task { try await closed.wait() }
        closed.close(with: .closed)
        await #expect(throws: KafkaError.closed) { try await blocked.value }
        await #expect(throws: KafkaError.closed) { try await suspended.value }
    }

    @Test("a cancelled wait on a Completion ends at once with CancellationError")
    func cancelledWait() async throws {
        let never = Completion<Int>()
        let waiting = Task { try await never.wait() }
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
    }

    @Test("64 concurrent async calls and 16 waiting async consumers: at most the pool's 8 kafka-call threads, none per waiting consumer")
    func threadsForManyCalls() async throws {
        let cluster = try MockCluster(brokers: 1, topics: ["threads": 16])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        var consumers: [BrokerConsumer] = []
        for partition in 0..<16 {
            var conf = ConsumerConf(topic: "threads", partition: Int32(partition))
            conf.startOffset = .oldest
            conf.retryLimit = -1
            consumers.append(try await broker.consumer(conf))
        }
        let readers = consumers.map { consumer in Task { try await consumer.consume() } }
        let sampler = ThreadSampler()
        let results = try await withThrowingTaskGroup(of: Int64.self) { group in
            for call in 0..<64 {
                group.addTask { try await broker.offsetLatest("threads", partition: Int32(call % 16)) }
            }
            return try await group.reduce(into: [Int64]()) { $0.append($1) }
        }
        let most = sampler.stop()
        #expect(results.count == 64)
        #expect(results.allSatisfy { $0 == 0 })
        #expect(most["kafka-call", default: 0] <= CallPool.shared.limit, "threads seen: \(most)")
        #expect(most["kafka-blocking-", default: 0] == 0, "no thread per call: \(most)")
        for consumer in consumers { consumer.close() }
        for reader in readers { await #expect(throws: KafkaError.closed) { try await reader.value } }
    }
}

/// Samples the process's threads by name (Linux's 15-character `comm`) on a thread of its own
/// until stopped, keeping the most seen at once per name.
final class ThreadSampler: @unchecked Sendable {
    // Safe: `most` and `running` are touched only with `lock` held.
    private let lock = NSLock()
    private var most: [String: Int] = [:]
    private var running = true
    private let finished = DispatchSemaphore(value: 0)

    init() {
        Thread.detachNewThread { [self] in
            while lock.withLock({ running }) {
                let now = Self.countByName()
                lock.withLock { for (name, count) in now { most[name] = max(most[name, default: 0], count) } }
                usleep(500)
            }
            finished.signal()
        }
    }

    /// Stops sampling; the most threads seen at once, by name.
    func stop() -> [String: Int] {
        lock.withLock { running = false }
        finished.wait()
        return lock.withLock { most }
    }

    /// The process's threads now, by name.
    static func countByName() -> [String: Int] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        var counts: [String: Int] = [:]
        for task in tasks {
            guard let name = threadName("/proc/self/task/\(task)/comm") else { continue }
            counts[name, default: 0] += 1
        }
        return counts
    }

    /// A thread's name from its `comm` file, read with one `read` into a buffer of its own: not
    /// `String(contentsOfFile:)`, which with Swift 6.3.1 leaks its 4 KiB buffer (LeakSanitizer)
    /// when the thread ends while its file is read. Nil once the thread is gone.
    private static func threadName(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
