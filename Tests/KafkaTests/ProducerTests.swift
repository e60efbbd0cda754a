import Kafka
import KafkaTest
import Testing

@Suite("Producer")
struct ProducerTests {
    @Test("produce returns the first offset and stamps every message")
    func produceStampsOffsets() throws {
        let cluster = try TestCluster()
        let topic = try cluster.topic()
        let broker = try cluster.dial()
        defer { broker.close() }
        let producer = try broker.producer()
        var first = values(0..<3)
        #expect(try producer.produce(topic, partition: 0, messages: &first) == 0)
        #expect(first.map(\.offset) == [0, 1, 2])
        #expect(first.allSatisfy { $0.topic == topic && $0.partition == 0 })
        var second = values(3..<5)
        #expect(try producer.produce(topic, partition: 0, messages: &second) == 3)
        #expect(second.map(\.offset) == [3, 4])
    }

    @Test("async produce suspends until acknowledged")
    func asyncProduce() async throws {
        let cluster = try TestCluster()
        let topic = try cluster.topic()
        let broker = try cluster.dial()
        defer { broker.close() }
        var messages = values(0..<10)
        let offset = try await broker.producer().produce(topic, partition: 0, messages: &messages)
        #expect(offset == 0)
        #expect(messages.last?.offset == 9)
    }
}
