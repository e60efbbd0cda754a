import Foundation

/// Handles a consumer group's messages concurrently while keeping per-key order: as many messages
/// in flight as ``ProcessingConf/concurrency`` allows, messages of one key (or partition) one after
/// another in offset order, and commits that never pass a message still being handled.
///
/// ```swift
/// var group = GroupConsumerConf(group: "billing", topics: ["orders"])
/// let loop = try ProcessingLoop(broker: broker, group: group) { message in
///     try await database.apply(message)          // runs beside other keys' messages
/// }
/// try await loop.run()                           // until the task is cancelled
/// ```
///
/// - **Commits.** A partition's committable offset advances only past a contiguous run of
///   handled messages; it is committed every ``ProcessingConf/commitInterval``, before a revoke
///   and when the loop stops. The group consumer's own commit policy is set to manual.
/// - **Back-pressure.** The loop stops reading while ``ProcessingConf/maxBufferedMessages`` or
///   ``ProcessingConf/maxBufferedBytes`` are buffered, and pauses a partition whose waiting
///   messages reach ``ProcessingConf/maxWaitingPerPartition``.
/// - **Rebalances.** Before partitions are revoked, the loop stops taking their messages, waits up
///   to ``ProcessingConf/revokeDeadline`` for their handlers (then cancels them), commits, and
///   only then lets the rebalance go on; lost partitions' handlers are cancelled at once. The
///   group's own hooks in ``GroupConsumerConf/rebalance`` still run, after the loop's.
/// - **Failures** follow ``ProcessingConf/failure``: retries through ``ProcessingConf/clock``, then
///   a dead-letter topic or a stop. Nothing is skipped silently.
///
/// At least once: after a crash, messages handled but not yet committed are handled again.
public final class ProcessingLoop<Consumer: ProcessableConsumer>: Sendable {
    /// The group consumer the loop reads from (made by the loop; closed when ``run()`` returns).
    public let consumer: Consumer
    /// The loop's settings.
    public let conf: ProcessingConf
    private let core: ProcessingCore
    private let handler: @Sendable (Message) async throws -> Void
    private let deadLetters: (any RecordSender)?

    /// Joins `group` with `makeConsumer` (after setting its commit policy to manual and wrapping its
    /// rebalance hooks) and prepares to hand its messages to `handler`; nothing is read before
    /// ``run()``. `deadLetters` sends what ``ProcessingConf/Exhausted/deadLetter(topic:)`` gives up on.
    /// - Throws: `KafkaError.invalidConfiguration(_:)` for invalid settings, or a dead-letter
    ///   policy without `deadLetters`; what `makeConsumer` throws.
    public init(
        group: GroupConsumerConf, conf: ProcessingConf = ProcessingConf(), deadLetters: (any RecordSender)? = nil,
        makeConsumer: (GroupConsumerConf) throws -> Consumer,
        handler: @escaping @Sendable (Message) async throws -> Void
    ) throws {
        try conf.validate()
        let core = ProcessingCore(conf)
        var group = group
        group.commitPolicy = .manual
        let hooks = group.rebalance
        let deadline = conf.revokeDeadline
        let logger = group.logger ?? NullKafkaLogger()
        group.rebalance.onAssigned = { rebalance in
            core.assigned(rebalance.partitions)
            try hooks.onAssigned?(rebalance)
        }
        group.rebalance.onRevoked = { rebalance in
            let offsets = core.revoke(rebalance.partitions, deadline: deadline, lost: false)
            // A refused commit (e.g. librdkafka's mock answers REBALANCE_IN_PROGRESS, which Kafka
            // does not while the group prepares a rebalance) leaves the last periodic commit: the
            // next owner then handles again what was handled since. The group's hooks still run.
            do {
                try rebalance.commit(offsets)
                core.committed(offsets)
            } catch {
                logger.warn("processing loop: commit before revoke failed", [("partitions", "\(offsets)"), ("error", "\(error)")])
            }
            try hooks.onRevoked?(rebalance)
        }
        group.rebalance.onLost = { rebalance in
            _ = core.revoke(rebalance.partitions, deadline: .zero, lost: true)
            try hooks.onLost?(rebalance)
        }
        if case .retry(_, _, .deadLetter(let topic)) = conf.failure, deadLetters == nil {
            throw KafkaError.invalidConfiguration("ProcessingConf.failure sends to the dead-letter topic \(topic), but no sender was given for it")
        }
        consumer = try makeConsumer(group)
        self.deadLetters = deadLetters
        self.conf = conf
        self.core = core
        self.handler = handler
    }

    /// Messages buffered now, waiting or being handled.
    public var buffered: Int { core.buffered }

    /// Messages being handled now.
    public var inFlight: Int { core.inFlight }

    /// Per partition with messages buffered, running or held back from the commit: how many of each.
    public var backlog: [TopicPartition: ProcessingBacklog] { core.backlog() }

    /// Reads and handles messages until the task is cancelled or the consumer is closed; then lets
    /// the handlers running finish (cancelling them after ``ProcessingConf/revokeDeadline``),
    /// commits what was handled and closes the consumer.
    /// - Throws: the handler's error when ``ProcessingConf/failure`` says stop; a fetch error.
    ///   Cancellation ends the loop without an error.
    public func run() async throws {
        let deadline = conf.revokeDeadline
        // The handlers are children of one task of the loop's own, which the caller's cancellation
        // does not reach: a stop lets them finish until the deadline and then cancels each through
        // its slot, as a revoke does.
        let handling = Task { try await self.readAndHandle() }
        do {
            try await withTaskCancellationHandler {
                try await handling.value
            } onCancel: {
                core.stop(deadline: deadline)
            }
        } catch is CancellationError {
        } catch KafkaError.closed {
        } catch {
            core.stop(deadline: deadline, failure: error)
        }
        // The last commit runs whatever ended the loop: in a task of its own, which the caller's
        // cancellation (the usual way to stop the loop) does not reach.
        let offsets = core.committable()
        let consumer = consumer
        if !offsets.isEmpty, (try? await Task { try await consumer.commit(offsets) }.value) != nil { core.committed(offsets) }
        consumer.close()
        if let failure = core.failure { throw failure }
    }

    /// Runs the reader, the periodic commits and a handler per runnable message, until the loop
    /// stops and what was buffered is done.
    private func readAndHandle() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await self.read() }
            group.addTask { try await self.commitPeriodically() }
            // The dispatcher: each runnable message gets a child task while fewer than
            // `concurrency` run. It ends when the loop stops (the reader ended, a handler
            // failed for good, or the loop was cancelled) and what was buffered is done.
            while case .job(let key, let job, let slot) = try await core.next() {
                group.addTask {
                    let handled = await self.handle(job, in: slot)
                    if let resume = self.core.finished(job, key: key, handled: handled) { try? self.consumer.resume([resume]) }
                }
            }
            group.cancelAll()
        }
    }

    /// Reads a fetch at a time until the consumer closes or the task is cancelled, then stops the
    /// loop; hands the buffer one message at a time while it has room, so it never holds more
    /// than its bounds (the fetch being handed over waits here).
    private func read() async throws {
        defer { core.stop(deadline: conf.revokeDeadline) }
        while !Task.isCancelled, !core.isStopping {
            let batch: [Message]
            do {
                batch = try await consumer.consumeBatch()
            } catch KafkaError.noData {
                continue
            } catch KafkaError.closed {
                return
            }
            for message in batch {
                try await core.waitForRoom()
                if let full = core.add(message) { try? consumer.pause([full]) }
            }
        }
    }

    /// Runs the handler (with its retries) in `slot`, through which a revoke or a stop can cancel
    /// it; true when the message counts as handled (also when it went to the dead-letter topic).
    private func handle(_ job: ProcessingCore.Job, in slot: HandlerSlot) async -> Bool {
        await slot.run {
            do {
                try await attempt(job)
                return true
            } catch is CancellationError {
                return false
            } catch {
                core.stop(deadline: conf.revokeDeadline, failure: error)
                return false
            }
        }
    }

    private func attempt(_ job: ProcessingCore.Job) async throws {
        switch conf.failure {
        case .stop:
            try await handler(job.message)
        case .retry(let attempts, let backoff, let exhausted):
            var wait = backoff
            for number in 1...attempts {
                do {
                    try await handler(job.message)
                    return
                } catch let error as CancellationError {
                    throw error
                } catch {
                    guard number < attempts else {
                        guard case .deadLetter(let topic) = exhausted, let deadLetters else { throw error }
                        try await deadLetter(job, error: error, to: topic, via: deadLetters)
                        return
                    }
                    try await conf.clock.sleep(for: wait)
                    wait = wait * 2
                }
            }
        }
    }

    private func deadLetter(_ job: ProcessingCore.Job, error: any Error, to topic: String, via sender: any RecordSender) async throws {
        var message = Message(key: job.message.key, value: job.message.value)
        message.headers = job.message.headers + [
            Header(key: "kafka.dlq.topic", value: Array(job.message.topic.utf8)),
            Header(key: "kafka.dlq.partition", value: Array(String(job.message.partition).utf8)),
            Header(key: "kafka.dlq.offset", value: Array(String(job.message.offset).utf8)),
            Header(key: "kafka.dlq.error", value: Array(String(describing: error).utf8)),
        ]
        _ = try await sender.send(message, to: topic, partition: nil).delivered()
    }

    private func commitPeriodically() async throws {
        while !Task.isCancelled {
            try await Task.sleep(for: conf.commitInterval)
            let offsets = core.committable()
            guard !offsets.isEmpty else { continue }
            // A partition revoked between the read and the commit is refused; the revoke committed it.
            if (try? await consumer.commit(offsets)) != nil { core.committed(offsets) }
        }
    }
}

extension ProcessingLoop where Consumer == GroupConsumer {
    /// Joins `group` on `broker` (its commit policy set to manual, its rebalance hooks wrapped) and
    /// prepares to hand its messages to `handler`; nothing is read before ``run()``. A dead-letter
    /// policy sends through a ``Sender`` of `broker`.
    /// - Throws: `KafkaError.invalidConfiguration(_:)` for invalid settings; as ``Broker/groupConsumer(_:)-3v53p``.
    public convenience init(
        broker: Broker, group: GroupConsumerConf, conf: ProcessingConf = ProcessingConf(),
        handler: @escaping @Sendable (Message) async throws -> Void
    ) throws {
        try conf.validate()
        var group = group
        if group.logger == nil { group.logger = broker.conf.logger }
        var deadLetters: Sender?
        if case .retry(_, _, .deadLetter) = conf.failure { deadLetters = try broker.sender() }
        do {
            try self.init(group: group, conf: conf, deadLetters: deadLetters, makeConsumer: { try broker.groupConsumer($0) }, handler: handler)
        } catch {
            deadLetters?.close()
            throw error
        }
    }
}
