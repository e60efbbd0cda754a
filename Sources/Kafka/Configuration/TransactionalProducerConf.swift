/// Settings of a ``TransactionalProducer``.
public struct TransactionalProducerConf: Sendable {
    /// The transactional id (`transactional.id`): what makes a restarted instance of a service
    /// take over, and fence, the transactions of the instance before it. Required; stable across
    /// restarts of one instance, distinct between instances that run at once (e.g. the service's
    /// name and its instance number).
    public var transactionalID: String
    /// How long the coordinator lets a transaction stay open before it aborts it
    /// (`transaction.timeout.ms`). Default 60 s (librdkafka's); from 1 s to 15 min (the broker's
    /// usual maximum). A commit or abort waits at most what is left of it.
    public var transactionTimeout: Duration = .seconds(60)
    /// How long making the producer waits for the transaction coordinator (`init_transactions`:
    /// finishing or fencing the previous instance's transaction) and how long
    /// ``TransactionalProducer/sendOffsets(_:group:)-1bl2n`` waits for it. Default 30 s; must be positive.
    public var coordinatorTimeout: Duration = .seconds(30)
    /// Produce settings: ``ProducerConf/compression`` and ``ProducerConf/requestTimeout`` apply;
    /// acknowledgement is always all replicas and production idempotent (transactions require
    /// both), and a produce call makes one attempt (librdkafka retries inside the transaction; a
    /// delivery that fails makes the transaction abortable). Default ``ProducerConf``'s.
    public var produce = ProducerConf()
    /// Receives this producer's log lines; nil (the default) uses the broker's logger.
    public var logger: (any KafkaLogger)? = nil
    /// Raw librdkafka properties for this producer's handle, applied last. Default empty.
    public var properties: [String: String] = [:]

    /// A transactional producer with `transactionalID` and the defaults above.
    public init(transactionalID: String) {
        self.transactionalID = transactionalID
    }

    func validate() throws(KafkaError) {
        guard !transactionalID.isEmpty else {
            throw .invalidConfiguration("TransactionalProducerConf.transactionalID is empty; name the instance's transactional id")
        }
        guard transactionTimeout >= .seconds(1), transactionTimeout <= .seconds(900) else {
            throw .invalidConfiguration("TransactionalProducerConf.transactionTimeout is \(transactionTimeout); use 1 s to 15 min")
        }
        try requirePositive(coordinatorTimeout, "TransactionalProducerConf.coordinatorTimeout")
        try produce.validate()
    }

    /// The conf of the produce calls: all replicas, one attempt.
    var producerConf: ProducerConf {
        var conf = produce
        conf.requiredAcks = .all
        conf.retryLimit = 1
        conf.logger = logger ?? produce.logger
        return conf
    }

    /// librdkafka properties of the producer's handle, after the produce settings' own.
    func librdkafkaProperties() -> [(String, String)] {
        let transactionMillis = transactionTimeout.milliseconds
        var result: [(String, String)] = [
            ("transactional.id", transactionalID),
            ("transaction.timeout.ms", "\(transactionMillis)"),
            ("enable.idempotence", "true"),
            ("acks", "all"),
        ]
        for key in properties.keys.sorted() { result.append((key, properties[key] ?? "")) }
        return result
    }
}
