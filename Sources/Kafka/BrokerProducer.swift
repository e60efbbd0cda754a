/// A producer bound to a ``Broker``: Go's `broker.Producer(conf)`.
///
/// One call's messages go to librdkafka in order, to one partition, and the
/// call returns when every delivery report arrived. While a call runs it serves
/// its handle's delivery reports itself (a blocking call waiting inside
/// librdkafka's queue, an `async` call suspended until librdkafka announces
/// one), unless another call already does; the handle's poll thread serves them
/// otherwise. Blocking and `async` calls wait the same ways for room when
/// librdkafka's queue is full.
public final class BrokerProducer: Producer {
    /// The broker this producer belongs to.
    public let broker: Broker
    /// The configuration the producer was created with.
    public let conf: ProducerConf
    let handle: NativeHandle
    private let logger: any KafkaLogger

    init(broker: Broker, conf: ProducerConf, handle: NativeHandle) {
        self.broker = broker
        self.conf = conf
        self.handle = handle
        self.logger = conf.logger ?? broker.conf.logger
    }

    /// Writes `messages` to `topic`/`partition` and blocks until the broker acknowledged them.
    ///
    /// Makes up to `conf.retryLimit` attempts, `conf.retryWait` apart; an
    /// attempt re-sends only the messages that failed with a transient
    /// error, so after a partial failure they land after the ones that
    /// succeeded. Leader changes are not among them: librdkafka itself re-sends
    /// a request that failed because the partition's leader moved (not-leader,
    /// leader-not-available) once it learns the new leader, without counting
    /// against `retryLimit`. A message librdkafka could not deliver within
    /// its message timeout (`conf.requestTimeout` plus the broker's
    /// `leaderRetryLimit × leaderRetryWait`) fails the call without another
    /// attempt: with every broker down a call fails within about that time
    /// plus 1 s (librdkafka checks timeouts once a second). Every message is checked before any is sent, so a bad
    /// message means nothing is written. An offset the broker did not report
    /// reads -1: every one with `RequiredAcks.none`, and, with
    /// `enable.idempotence`, a message librdkafka knows was stored because a
    /// retry found the messages after it stored.
    ///
    /// - Throws: `KafkaError.invalidArgument(_:)` for an empty list, a bad topic name or a
    ///   negative partition; `unknownTopicOrPartition` for a partition that does not exist;
    ///   `messageSizeTooLarge` for a message over librdkafka's `message.max.bytes`;
    ///   `KafkaError.invalidArgument(_:)` for a header name containing a NUL byte;
    ///   `KafkaError.closed` when the broker is or gets closed; otherwise the last
    ///   delivery error once a permanent error occurs or the attempts run out.
    @discardableResult
    public func produce(_ topic: String, partition: Int32, messages: inout [Message]) throws -> Int64 {
        try prepare(topic, partition, messages)
        var outcome = ProduceOutcome(count: messages.count, acknowledgesOffsets: conf.requiredAcks != .none)
        for attempt in 1...conf.retryLimit {
            if attempt > 1 { broker.conf.clock.sleep(for: conf.retryWait) }
            let sending = try ProduceAttempt(handle: handle, topic: topic, partition: partition, messages: messages, indices: outcome.pending)
            // Once it holds its turn, the call serves librdkafka's reports itself when no other call
            // does (see `NativeHandle.beginServing`); otherwise it waits for whoever serves them.
            var serving = false
            drive: while true {
                switch sending.next(messages) {
                case .turn:
                    handle.turns.acquireBlocking(TopicPartitionKey(topic: topic, partition: partition))
                    sending.turnTaken()
                    serving = handle.beginServing()
                case .room(let seen):
                    if serving && !handle.isClosed {
                        handle.serveMainQueue { handle.queueSpace.generation != seen }
                    } else {
                        handle.queueSpace.waitBlocking(after: seen)
                    }
                case .reports:
                    if serving && !handle.isClosed {
                        handle.serveMainQueue { sending.isSettled }
                    } else {
                        sending.waitBlocking()
                    }
                case .settled:
                    break drive
                }
            }
            if serving { handle.endServing() }
            if try settle(sending, &outcome) { return outcome.stamp(&messages, topic, partition, sending) }
            logger.debug("produce attempt failed", [("topic", topic), ("attempt", "\(attempt)"), ("error", outcome.lastError.description)])
        }
        throw outcome.lastError
    }

    /// The `async` twin of ``produce(_:partition:messages:)-93b7h``: suspends
    /// until acknowledged and never blocks a thread (waits for room in librdkafka's queue,
    /// waits for acknowledgements and retry sleeps included).
    ///
    /// Cancellation: a cancelled call throws `CancellationError` promptly, whatever it is
    /// waiting for. Messages it had not yet handed to librdkafka (waiting for its turn or for
    /// room in the queue) are never written. Messages already handed over may still be
    /// written: librdkafka cannot take back single messages without purging every call's, so
    /// a service that must know re-reads the partition or uses idempotent keys.
    @discardableResult
    public func produce(_ topic: String, partition: Int32, messages: inout [Message]) async throws -> Int64 {
        try prepare(topic, partition, messages)
        var outcome = ProduceOutcome(count: messages.count, acknowledgesOffsets: conf.requiredAcks != .none)
        for attempt in 1...conf.retryLimit {
            if attempt > 1 { try await broker.conf.clock.sleep(for: conf.retryWait) }
            try Task.checkCancellation()
            let sending = try ProduceAttempt(handle: handle, topic: topic, partition: partition, messages: messages, indices: outcome.pending)
            // Once it holds its turn, the call serves librdkafka's reports itself when no other call
            // does, suspended between events (see `NativeHandle.waitForMainQueueEvent`).
            var serving = false
            defer { if serving { handle.endServing() } }
            do {
                var step = sending.next(messages)
                drive: while true {
                    switch step {
                    case .turn:
                        try await handle.turns.acquire(TopicPartitionKey(topic: topic, partition: partition))
                        sending.turnTaken()
                        serving = handle.beginServing()
                        step = sending.next(messages)
                    case .room(let seen):
                        // Waiting for room while holding the partition's turn: resume on the library's own
                        // thread, not the cooperative pool, so that a busy pool cannot hold up every other
                        // call to this partition queued behind the turn.
                        step = try await withTaskExecutorPreference(MxExecutor.shared) {
                            var step = ProduceAttempt.Next.room(after: seen)
                            while case .room(let seen) = step {
                                if serving && !handle.isClosed {
                                    try await handle.waitForMainQueueEvent { handle.queueSpace.generation != seen }
                                } else {
                                    try await handle.queueSpace.wait(after: seen)
                                }
                                step = sending.next(messages)
                            }
                            return step
                        }
                    case .reports:
                        if serving && !handle.isClosed {
                            // Other calls' reports may wait for this one to serve them: resume on the
                            // library's own thread, which no caller blocks, not the cooperative pool.
                            try await withTaskExecutorPreference(MxExecutor.shared) {
                                try await handle.waitForMainQueueEvent { sending.isSettled }
                                _ = try? handle.withHandle { _ in handle.serveMainQueue() }
                            }
                        } else {
                            try await sending.wait()
                        }
                        step = sending.next(messages)
                    case .settled:
                        break drive
                    }
                }
            } catch {
                // Cancelled: the messages not yet handed over are never sent, and the turn is given back.
                sending.cancel()
                throw error
            }
            if try settle(sending, &outcome) { return outcome.stamp(&messages, topic, partition, sending) }
            logger.debug("produce attempt failed", [("topic", topic), ("attempt", "\(attempt)"), ("error", outcome.lastError.description)])
        }
        throw outcome.lastError
    }

    /// Reads a finished attempt into `outcome`: true when every message is delivered, false when
    /// the failed ones should be sent again.
    /// - Throws: `KafkaError.closed` when the handle closed; a permanent delivery error at once.
    private func settle(_ attempt: ProduceAttempt, _ outcome: inout ProduceOutcome) throws -> Bool {
        if attempt.isAbandoned || handle.isClosed { throw KafkaError.closed }
        guard let error = outcome.record(attempt) else { return true }
        if case .local(let code, _) = error,
            code == LocalErrorCode.purgedQueue || code == LocalErrorCode.purgedInFlight
        {
            throw KafkaError.closed
        }
        // The message timeout already spans the leader retry budget (see `ProducerConf.requestTimeout`):
        // a message that timed out is not sent again, so a call's time stays bounded.
        guard error.isTransient, !error.isLocal(LocalErrorCode.messageTimedOut) else { throw error }
        return false
    }

    /// Checks everything that can be checked before a byte is sent.
    private func prepare(_ topic: String, _ partition: Int32, _ messages: [Message]) throws {
        try validateTopicName(topic)
        try validatePartition(partition)
        guard !messages.isEmpty else {
            throw KafkaError.invalidArgument("no messages to produce to \(topic)/\(partition)")
        }
        // Borrowed through the buffer: a `for message in messages` loop copies every message (a
        // retain and a release of each of its fields), measured at a tenth of a large call's CPU.
        let maxMessageBytes = handle.maxMessageBytes
        let problem: KafkaError? = messages.withUnsafeBufferPointer { buffer in
            for index in buffer.indices {
                if let problem = recordProblem(buffer[index], maxMessageBytes: maxMessageBytes, naming: "message \(index)", consequence: "nothing was sent") {
                    return problem
                }
            }
            return nil
        }
        if let problem { throw problem }
        try broker.requirePartition(topic, partition)
    }
}

/// What makes `message` unsendable before librdkafka sees it: a header name with a NUL byte
/// (Kafka clients read it as its end), or key, value and headers over `maxMessageBytes`
/// (`messageSizeTooLarge`); nil when it is fine. `naming` and `consequence` complete the error's sentence.
func recordProblem(_ message: Message, maxMessageBytes: Int, naming: @autoclosure () -> String, consequence: String) -> KafkaError? {
    var size = (message.key?.count ?? 0) + (message.value?.count ?? 0)
    if !message.headers.isEmpty {
        for header in message.headers {
            if header.key.utf8.contains(0) {
                return KafkaError.invalidArgument("\(naming()) has a header name containing a NUL byte, which Kafka clients read as its end; \(consequence)")
            }
            size += header.key.utf8.count + (header.value?.count ?? 0)
        }
    }
    if size > maxMessageBytes {
        return KafkaError.broker(
            .messageSizeTooLarge, message: "\(naming()) is \(size) bytes; the producer's message.max.bytes is \(maxMessageBytes); \(consequence)"
        )
    }
    return nil
}
