import Kafka

// The Swift block of Kafka.docc/ExactlyOnce.md, verbatim (compiled, not run: it loops for ever).

func docExactlyOnce(broker: Broker) async throws {
    var conf = GroupConsumerConf(group: "billing", topics: ["orders"])
    conf.commitPolicy = .manual                       // offsets commit only in transactions
    let orders = try await broker.groupConsumer(conf)
    let producer = try await broker.transactionalProducer(TransactionalProducerConf(transactionalID: "billing-0"))

    while true {
        let inputs = try await orders.consumeBatch()
        do {
            try await producer.transaction {
                for input in inputs {
                    try await producer.produce("invoices", partition: input.partition, messages: [invoice(for: input)])
                }
                try await producer.sendOffsets(handedOutBy: orders)
            }
        } catch let error as KafkaError where error.transactionFailureKind == .abortable {
            try await orders.rewindToCommitted()            // the transaction was aborted: read its inputs again
        }
    }
}
