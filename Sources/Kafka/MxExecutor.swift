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
final class MxExecutor: TaskExecutor, Sendable {
    static let shared = MxExecutor()

    private let jobs = Mutex<[UnownedJob]>([])
    /// The executor's thread, parked while there are no jobs (a use of ``Waiters``).
    private let work = Waiters<Bool>()

    private init() {
        let thread = Thread { [self] in run() }
        thread.name = "kafka-mx"
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        let wasEmpty = jobs.withLock { jobs in
            defer { jobs.append(unowned) }
            return jobs.isEmpty
        }
        // The thread parks only on an empty list (checked after it registered): a job added to a
        // list that was not empty is seen by the running batch's next look.
        if wasEmpty { work.resumeAll(with: true) }
    }

    private func run() {
        var batch: [UnownedJob] = []
        while true {
            jobs.withLock { swap(&$0, &batch) }
            if batch.isEmpty {
                _ = try? work.waitBlocking(timeout: nil, onTimeout: false) { jobs.withLock { $0.isEmpty } ? nil : true }
                continue
            }
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
            batch.removeAll(keepingCapacity: true)
        }
    }
}
