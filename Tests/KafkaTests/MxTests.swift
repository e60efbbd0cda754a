import Kafka
import KafkaTest
import KafkaTestSupport
import Testing

@Suite("Mx over real consumers", .ownThreads)
struct MxTests {
    @Test("Mx over three partitions delivers every message exactly once and closes after all end")
    func mergesPartitions() async throws {
        let cluster = try TestCluster()
        let topic = try cluster.topic(partitions: 3)
        let broker = try cluster.dial()
        defer { broker.close() }
        let producer = try broker.producer()
        for partition in 0..<3 {
            try await producer.produce(topic, partition: Int32(partition), messages: values(0..<200, prefix: "p\(partition)-"))
        }
        var consumers: [any Consumer] = []
        for partition in 0..<3 {
            var conf = ConsumerConf(topic: topic, partition: Int32(partition))
            conf.retryLimit = 2
            conf.retryWait = .milliseconds(10)
            consumers.append(try await broker.consumer(conf))
        }
        let mx = Mx.merge(consumers)
        var seen: [Int32: [Int64]] = [:]
        for try await message in mx { seen[message.partition, default: []].append(message.offset) }
        for partition: Int32 in 0..<3 { #expect(seen[partition] == Array(0..<200)) }
        #expect(throws: KafkaError.mxClosed) { try mx.consume() }
    }
}
