// The README's code blocks, verbatim: DocSnippetTests checks that they are here, so they compile.
import Kafka

func tour(_ broker: Broker) async throws {
    // A service's producer: a send returns a receipt at once; await it when delivery matters.
    let sender = try broker.sender()
    let receipt = try await sender.send(Message(key: "user-1", value: "hello"), to: "events")
    print(try await receipt.delivered().offset)

    // A consumer group member, read as an AsyncSequence.
    let member = try await broker.groupConsumer(GroupConsumerConf(group: "billing", topics: ["events"]))
    for try await message in member {
        print(message.topic, message.partition, message.offset)
    }
}
