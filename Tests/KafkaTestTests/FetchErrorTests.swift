import Kafka
import KafkaTest
import Testing
import KafkaTestSupport

@Suite("Tier 2: fetch errors", .ownThreads)
struct FetchErrorTests {
    /// librdkafka follows leader changes itself; errors it hands to the application
    /// (here invalidMessage) go through the retry loop. Some others, such as
    /// topicAuthorizationFailed, make librdkafka pause the partition, so they surface irregularly.
    @Test("leader errors on fetch are handled by librdkafka without surfacing", arguments: [ErrorCode.notLeaderForPartition, .leaderNotAvailable])
    func fetchErrorsAbsorbed(code: ErrorCode) async throws {
        try await withMockCluster(brokers: 1, topics: ["t": 1]) { cluster in
            let (broker, clock) = try dialWithVirtualClock(cluster)
            defer { broker.close() }
            try await broker.producer().produce("t", partition: 0, messages: [Message(value: "v")])
            var consumerConf = ConsumerConf(topic: "t", partition: 0)
            consumerConf.retryLimit = 100
            try cluster.failNext(.fetch, with: Array(repeating: code, count: 3))
            let consumer = try await broker.consumer(consumerConf)
            #expect(try await consumer.consume().offset == 0)
            #expect(clock.count(of: consumerConf.retryErrWait) == 0)
        }
    }

    @Test("fetch errors the broker keeps returning are retried retryErrLimit times, retryErrWait apart, then thrown with the broker's code",
          arguments: [ErrorCode.invalidMessage])
    func fetchErrorsCounted(code: ErrorCode) async throws {
        try await withMockCluster(brokers: 1, topics: ["t": 1]) { cluster in
            let (broker, clock) = try dialWithVirtualClock(cluster)
            defer { broker.close() }
            try await broker.producer().produce("t", partition: 0, messages: [Message(value: "v")])
            var consumerConf = ConsumerConf(topic: "t", partition: 0)
            consumerConf.retryErrLimit = 3
            consumerConf.retryErrWait = .milliseconds(321)
            consumerConf.retryLimit = 20
            consumerConf.requestTimeout = .seconds(2)
            consumerConf.fetchWait = .seconds(2)  // librdkafka's fetch pacing, as this test measured it
            // librdkafka waits fetch.error.backoff.ms before fetching again after an error; with
            // the virtual clock the retry wait is instant, so let librdkafka refetch at once too.
            consumerConf.properties["fetch.error.backoff.ms"] = "0"
            try cluster.failNext(.fetch, with: Array(repeating: code, count: 50))
            let consumer = try await broker.consumer(consumerConf)
            clock.reset()
            let error = await #expect(throws: KafkaError.self) { try await consumer.consume() }
            #expect(error?.errorCode == code)
            // Empty fetches between errors (librdkafka's own pacing) are waited out with retryWait, not counted as errors.
            #expect(clock.count(of: .milliseconds(321)) == 2)
            try cluster.clearErrors(.fetch)
            #expect(try await consumer.consume().offset == 0)
        }
    }
}
