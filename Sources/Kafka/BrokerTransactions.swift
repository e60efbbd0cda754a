extension Broker {
    /// Returns a new ``TransactionalProducer`` with its own librdkafka handle, once transactions
    /// are initialized for `conf.transactionalID`: a transaction the previous instance with that id
    /// left open is aborted (or its commit completed) and that instance fenced. Waits for the
    /// coordinator up to ``TransactionalProducerConf/coordinatorTimeout``.
    /// - Throws: `KafkaError.invalidConfiguration(_:)` for a bad conf or property;
    ///   `KafkaError.transaction(_:)` when initialization failed (retriable: try again, e.g. the
    ///   coordinator was not available in time; fatal: e.g. a transaction timeout the broker refuses);
    ///   `KafkaError.closed` after close.
    public func transactionalProducer(_ conf: TransactionalProducerConf) throws -> TransactionalProducer {
        try conf.validate()
        try checkOpen()
        var produce = conf.producerConf
        produce.properties["enable.idempotence"] = "true"
        let settings = ProducerSettings(produce)
        // A message may not outlive its transaction (librdkafka refuses a longer message timeout).
        let messageTimeout = min(conf.transactionTimeout, produce.requestTimeout + leaderRetryBudget)
        let handle = try NativeHandle(
            kind: .producer,
            properties: Self.baseProperties(addresses, self.conf) + settings.properties(self.conf)
                + [
                    ("message.timeout.ms", "\(max(1, messageTimeout.milliseconds))"),
                    // librdkafka refuses a socket timeout longer than the transaction timeout + 100 ms.
                    ("socket.timeout.ms", "\(max(10, min(self.conf.readTimeout, conf.transactionTimeout + .milliseconds(100)).milliseconds))"),
                ] + conf.librdkafkaProperties(),
            logger: conf.logger ?? self.conf.logger, name: "transactional", polled: true, tokenProvider: self.conf.tokenProvider
        )
        try adopt(handle)
        do {
            let timeout = conf.coordinatorTimeout
            try handle.detached { rk in try TransactionCalls.initialize(rk, timeout: timeout) }
        } catch {
            handle.close()
            throw error
        }
        return TransactionalProducer(broker: self, conf: conf, handle: handle)
    }

    /// The `async` twin of ``transactionalProducer(_:)``: waits for the coordinator without holding
    /// a thread; `CancellationError` when cancelled (a producer made anyway is closed).
    public func transactionalProducer(_ conf: TransactionalProducerConf) async throws -> TransactionalProducer {
        try await runBlocking(abandoned: { $0.close() }) { try self.transactionalProducer(conf) }
    }

    /// How long librdkafka may wait for a partition's leader (Go's leader retries), saturating.
    private var leaderRetryBudget: Duration {
        let (budget, overflow) = Int64(conf.leaderRetryWait.milliseconds).multipliedReportingOverflow(by: Int64(clamping: conf.leaderRetryLimit))
        return .milliseconds(overflow ? Int64(Int32.max) : min(budget, Int64(Int32.max)))
    }
}
