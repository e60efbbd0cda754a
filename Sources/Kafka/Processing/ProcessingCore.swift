import Dispatch
import Synchronization

/// The shared state of one ``ProcessingLoop``: what is buffered, what runs, what each partition
/// may commit; guarded by one lock, with the library's waiting primitive for the reader (room in
/// the buffer), the workers (a message to handle) and revokes (a partition's handlers done).
final class ProcessingCore: Sendable {
    /// The ordering key of a buffered message.
    enum OrderKey: Hashable, Sendable {
        case key(TopicPartition, [UInt8])
        case partition(TopicPartition)
        case unique(UInt64)
    }

    /// One buffered message.
    struct Job: Sendable {
        let id: UInt64
        let message: Message
        let partition: TopicPartition
        let bytes: Int
    }

    /// What a worker gets when it asks for work: a job, and the slot its handler runs in.
    enum Next: Sendable {
        case job(OrderKey, Job, HandlerSlot)
        case stop
    }

    private struct State {
        var scheduler = KeyedScheduler<OrderKey, Job>()
        var frontiers: [TopicPartition: CommitFrontier] = [:]
        /// The slots of the handlers running, per partition, by job id.
        var running: [TopicPartition: [UInt64: HandlerSlot]] = [:]
        var waitingPerPartition: [TopicPartition: Int] = [:]
        var paused: Set<TopicPartition> = []
        /// Partitions revoked or lost: messages of them that still arrive are dropped.
        var gone: Set<TopicPartition> = []
        /// Partitions assigned to this member now.
        var assigned: Set<TopicPartition> = []
        var bufferedMessages = 0
        var bufferedBytes = 0
        var lastCommitted: [TopicPartition: Int64] = [:]
        var nextID: UInt64 = 0
        /// Handlers running now.
        var inFlight = 0
        var stopping = false
        var failure: (any Error)?
    }

    let conf: ProcessingConf
    private let state = Mutex(State())
    private let work = Waiters<Void>()
    private let room = Waiters<Void>()
    private let drained = Waiters<Void>()

    init(_ conf: ProcessingConf) {
        self.conf = conf
    }

    // MARK: Reader

    /// Waits until the buffer has room for another message.
    func waitForRoom() async throws {
        // A wake-up is a hint, not a grant: one published for an earlier wait can wake this one
        // after the room was taken again, so the room is checked again after every wake-up.
        while !hasRoom {
            try await room.wait(timeout: nil, onTimeout: ()) { hasRoom ? () : nil }
        }
    }

    private var hasRoom: Bool {
        state.withLock { $0.stopping || ($0.bufferedMessages < conf.maxBufferedMessages && $0.bufferedBytes < conf.maxBufferedBytes) }
    }

    /// Buffers `message`; returns its partition when that partition's waiting messages reached the
    /// limit (the caller pauses it).
    func add(_ message: Message) -> TopicPartition? {
        let partition = TopicPartition(message.topic, message.partition)
        let pause: TopicPartition? = state.withLock { state in
            guard !state.stopping, !state.gone.contains(partition) else { return nil }
            state.nextID &+= 1
            let bytes = (message.key?.count ?? 0) + (message.value?.count ?? 0)
            let job = Job(id: state.nextID, message: message, partition: partition, bytes: bytes)
            let key: OrderKey = switch conf.ordering {
            case .perKey: message.key.map { .key(partition, $0) } ?? .unique(job.id)
            case .perPartition: .partition(partition)
            case .none: .unique(job.id)
            }
            state.scheduler.add(job, key: key)
            state.frontiers[partition, default: CommitFrontier()].handedOut(message.offset)
            state.bufferedMessages += 1
            state.bufferedBytes += bytes
            let waiting = state.waitingPerPartition[partition, default: 0] + 1
            state.waitingPerPartition[partition] = waiting
            // Pausing lets this member's other partitions go on while one is held back; with no
            // other partition it would only stall the fetcher (the buffer's bound stops reading anyway).
            guard waiting >= conf.maxWaitingPerPartition, !state.paused.contains(partition), state.assigned.count > 1 else { return nil }
            state.paused.insert(partition)
            return partition
        }
        _ = work.resumeAll(with: ())
        return pause
    }

    // MARK: Workers

    /// The next message to hand to a handler, waiting until one is runnable and fewer than
    /// `concurrency` run; `.stop` once the loop stops and nothing buffered is left. One caller
    /// (the loop's dispatcher) waits here, so a new message wakes one task, not one per handler.
    func next() async throws -> Next {
        while true {
            let taken: Next? = state.withLock { state in
                // Stopping drains: what is buffered is still handled, until the deadline drops it.
                if state.stopping, state.scheduler.waiting == 0 { return .stop }
                guard state.inFlight < conf.concurrency, let (key, job) = state.scheduler.next() else { return nil }
                state.inFlight += 1
                state.waitingPerPartition[job.partition, default: 1] -= 1
                let slot = HandlerSlot()
                state.running[job.partition, default: [:]][job.id] = slot
                return .job(key, job, slot)
            }
            if let taken { return taken }
            try await work.wait(timeout: nil, onTimeout: ()) {
                // Waiting items whose keys are all busy are no work: only a runnable one, with a
                // handler free, wakes the dispatcher.
                state.withLock { state in
                    (state.stopping && state.scheduler.waiting == 0) || (state.inFlight < conf.concurrency && state.scheduler.hasRunnable)
                } ? () : nil
            }
        }
    }

    /// Records that `job` ended; `handled` when its offset may be committed. Returns the partition
    /// to resume when its waiting messages fell to half the limit.
    func finished(_ job: Job, key: OrderKey, handled: Bool) -> TopicPartition? {
        let resume: TopicPartition? = state.withLock { state in
            state.inFlight -= 1
            state.scheduler.finished(key)
            state.bufferedMessages -= 1
            state.bufferedBytes -= job.bytes
            guard state.running[job.partition]?.removeValue(forKey: job.id) != nil else { return nil }
            if state.running[job.partition]?.isEmpty == true { state.running[job.partition] = nil }
            if handled { state.frontiers[job.partition]?.finished(job.message.offset) }
            guard state.paused.contains(job.partition), state.waitingPerPartition[job.partition, default: 0] <= conf.maxWaitingPerPartition / 2 else { return nil }
            state.paused.remove(job.partition)
            return job.partition
        }
        _ = work.resumeAll(with: ())
        _ = room.resumeAll(with: ())
        _ = drained.resumeAll(with: ())
        return resume
    }

    // MARK: Commits

    /// The committable offset of every partition whose frontier moved since the last commit.
    func committable() -> [TopicPartition: Int64] {
        state.withLock { state in
            var offsets: [TopicPartition: Int64] = [:]
            for (partition, frontier) in state.frontiers where !state.gone.contains(partition) {
                if let offset = frontier.committable, offset != state.lastCommitted[partition] { offsets[partition] = offset }
            }
            return offsets
        }
    }

    /// Records that `offsets` were committed.
    func committed(_ offsets: [TopicPartition: Int64]) {
        state.withLock { state in
            for (partition, offset) in offsets { state.lastCommitted[partition] = offset }
        }
    }

    // MARK: Rebalances

    /// Partitions given to this member: messages of them are taken again, from a fresh frontier.
    func assigned(_ partitions: [TopicPartition]) {
        state.withLock { state in
            state.assigned.formUnion(partitions)
            for partition in partitions {
                state.gone.remove(partition)
                state.frontiers[partition] = nil
                state.lastCommitted[partition] = nil
            }
        }
    }

    /// Stops taking new messages of `partitions`, lets their buffered ones be handled for up to
    /// `deadline` (then drops what still waits and cancels what still runs, and waits for it to
    /// end), and returns the offsets to commit for them before they go; when `lost`, drops and
    /// cancels at once and returns none. Draining rather than dropping keeps a partition's commit
    /// from stopping short of messages of other keys already handled, which the next owner would
    /// handle again.
    func revoke(_ partitions: [TopicPartition], deadline: Duration, lost: Bool) -> [TopicPartition: Int64] {
        let revoked = Set(partitions)
        state.withLock { state in
            state.gone.formUnion(revoked)
            state.assigned.subtract(revoked)
        }
        let drained = {
            self.state.withLock { state in
                revoked.allSatisfy { state.running[$0] == nil && state.waitingPerPartition[$0, default: 0] == 0 }
            }
        }
        if !lost {
            // Until drained or the deadline: a wake-up only says that something ended.
            let end = ContinuousClock.now + deadline
            while !drained(), case let left = end - ContinuousClock.now, left > .zero {
                _ = try? self.drained.waitBlocking(timeout: left, onTimeout: ()) { drained() ? () : nil }
            }
        }
        // Past the deadline (or lost): drop what waits, cancel what runs, then wait for it to end,
        // so that no handler of a partition that moved runs beside its new owner's.
        let leftovers = state.withLock { state in
            let dropped = state.scheduler.removeWaiting { revoked.contains($0.partition) }
            state.bufferedMessages -= dropped.count
            state.bufferedBytes -= dropped.reduce(0) { $0 + $1.bytes }
            for partition in revoked {
                state.waitingPerPartition[partition] = nil
                state.paused.remove(partition)
            }
            return revoked.flatMap { state.running[$0].map { Array($0.values) } ?? [] }
        }
        _ = room.resumeAll(with: ())
        _ = work.resumeAll(with: ())
        for slot in leftovers { slot.cancel() }
        while !drained() { _ = try? self.drained.waitBlocking(timeout: .seconds(1), onTimeout: ()) { drained() ? () : nil } }
        return state.withLock { state in
            var offsets: [TopicPartition: Int64] = [:]
            for partition in revoked {
                if !lost, let offset = state.frontiers[partition]?.committable, offset != state.lastCommitted[partition] {
                    offsets[partition] = offset
                }
                state.frontiers[partition] = nil
                state.lastCommitted[partition] = nil
            }
            return offsets
        }
    }

    // MARK: Stopping

    /// Stops the loop: no new message is taken; the buffered ones are still handled until
    /// `deadline`, when what still waits is dropped (its offsets are not committed) and what still
    /// runs is cancelled.
    func stop(deadline: Duration, failure: (any Error)? = nil) {
        let first = state.withLock { state -> Bool in
            if let failure, state.failure == nil { state.failure = failure }
            guard !state.stopping else { return false }
            state.stopping = true
            return true
        }
        // A failure ends the loop now: what waits is not started.
        if failure != nil { dropWaiting() }
        _ = work.resumeAll(with: ())
        _ = room.resumeAll(with: ())
        guard first else { return }
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(clamping: deadline.nanoseconds))) { [self] in
            dropWaiting()
            let running = state.withLock { $0.running.values.flatMap { $0.values } }
            for slot in running { slot.cancel() }
        }
    }

    private func dropWaiting() {
        state.withLock { state in
            let dropped = state.scheduler.removeWaiting { _ in true }
            state.bufferedMessages -= dropped.count
            state.bufferedBytes -= dropped.reduce(0) { $0 + $1.bytes }
            state.waitingPerPartition = [:]
        }
        _ = work.resumeAll(with: ())
        _ = room.resumeAll(with: ())
    }

    /// Per partition with anything buffered or held: messages waiting, running, and handled but
    /// held back from the commit by an earlier unfinished one.
    func backlog() -> [TopicPartition: ProcessingBacklog] {
        state.withLock { state in
            var result: [TopicPartition: ProcessingBacklog] = [:]
            for (partition, frontier) in state.frontiers where frontier.count > 0 {
                let waiting = state.waitingPerPartition[partition, default: 0]
                let running = state.running[partition]?.count ?? 0
                result[partition] = ProcessingBacklog(waiting: waiting, running: running, heldBack: max(0, frontier.count - waiting - running))
            }
            return result
        }
    }

    /// True once the loop stops: nothing new is taken.
    var isStopping: Bool { state.withLock { $0.stopping } }

    /// The error that stopped the loop, if a handler's did.
    var failure: (any Error)? { state.withLock { $0.failure } }

    /// Messages buffered now (waiting or being handled), for tests and metrics.
    var buffered: Int { state.withLock { $0.bufferedMessages } }

    /// Messages being handled now.
    var inFlight: Int { state.withLock { $0.inFlight } }
}

/// Where one partition stands in a ``ProcessingLoop``.
public struct ProcessingBacklog: Sendable, Hashable {
    /// Messages buffered, not yet handed to a handler.
    public let waiting: Int
    /// Messages being handled now.
    public let running: Int
    /// Messages handled but not yet committable: an earlier message of the partition is unfinished.
    public let heldBack: Int

    /// A partition's backlog.
    public init(waiting: Int, running: Int, heldBack: Int) {
        self.waiting = waiting
        self.running = running
        self.heldBack = heldBack
    }
}
