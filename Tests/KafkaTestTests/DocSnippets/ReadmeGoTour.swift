// The README's code blocks, verbatim: DocSnippetTests checks that they are here, so they compile.
import Kafka

func goTour() throws {
    let broker = try Broker.dial(["localhost:9092"], conf: BrokerConf(clientID: "billing"))
    defer { broker.close() }

    // Go's producer: blocks until the messages are acknowledged and returns the first offset.
    let producer = try broker.producer(ProducerConf())
    let offset = try producer.produce("events", partition: 0, messages: [Message(key: "user-1", value: "hello")])

    // Go's partition consumer: the next message, or KafkaError.noData once caught up.
    var conf = ConsumerConf(topic: "events", partition: 0)
    conf.startOffset = .oldest
    conf.retryLimit = 3
    let consumer = try broker.consumer(conf)
    print(offset, try consumer.consume().offset)
}
