import Foundation
import Synchronization

/// Consumers whose `async` reads wait on librdkafka's queue events and never block a
/// thread (``BrokerConsumer``, ``GroupConsumer``): an ``Mx`` runs their workers as tasks.
protocol EventDrivenConsumer: BatchConsumer {}

extension BrokerConsumer: EventDrivenConsumer {}
extension GroupConsumer: EventDrivenConsumer {}

/// The one thread every ``Mx`` worker task runs on, and where an `async` produce that holds its
/// partition's turn waits for room in librdkafka's queue, or that serves its handle's delivery
/// reports waits for them. Workers of event-driven consumers spend
/// their time suspended (waiting for a fetch or for their messages to be taken), so one thread
/// serves any number of them, and none runs on the cooperative pool, which a blocking
/// `Mx.consume()` called from a task may be holding.
final class MxExecutor: TaskExecutor, @unchecked Sendable {
    // Safe: `jobs` is touched only with `lock` held.
    static let shared = MxExecutor()

    private let lock = ConditionLock()
    private var jobs: [UnownedJob] = []

    private init() {
        let thread = Thread { [self] in run() }
        thread.name = "kafka-mx"
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        lock.withLock {
            jobs.append(unowned)
            lock.broadcast()
        }
    }

    private func run() {
        while true {
            let batch: [UnownedJob] = lock.withLock {
                lock.wait { !jobs.isEmpty }
                defer { jobs.removeAll(keepingCapacity: true) }
                return jobs
            }
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
        }
    }
}
