import Kafka

/// A small service: forwards every order to the "billing" topic, keyed by customer.
struct OrderForwarder<P: Producer> {
    let producer: P
    func forward(customer: String, order: [UInt8]) throws -> Int64 {
        try HashProducer(producer, partitions: 4).distribute("billing", messages: [Message(key: Array(customer.utf8), value: order)])
    }
}
