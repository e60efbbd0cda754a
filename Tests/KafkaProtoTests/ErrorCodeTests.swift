import KafkaProto
import Testing

@Suite("Kafka error codes")
struct ErrorCodeTests {
    @Test("every code librdkafka 2.0.2 knows is named: -1 and 1 through 97")
    func tableIsComplete() {
        let codes = ErrorCode.allKnown.map(\.rawValue)
        #expect(codes == [-1] + Array(1...97))
    }

    @Test("every code round-trips through its raw value with a unique name")
    func roundTrip() {
        let all = ErrorCode.allKnown
        #expect(Set(all.map(\.name)).count == all.count)
        for code in all {
            #expect(ErrorCode(rawValue: code.rawValue) == code)
            #expect(code.isKnown)
            #expect(!code.text.isEmpty)
        }
    }

    @Test("Go names and numbers agree", arguments: [
        (ErrorCode.unknown, -1, "unknown"),
        (.offsetOutOfRange, 1, "offsetOutOfRange"),
        (.unknownTopicOrPartition, 3, "unknownTopicOrPartition"),
        (.notLeaderForPartition, 6, "notLeaderForPartition"),
        (.requestTimeout, 7, "requestTimeout"),
        (.messageSizeTooLarge, 10, "messageSizeTooLarge"),
        (.noCoordinator, 15, "noCoordinator"),
        (.invalidTimeStamp, 32, "invalidTimeStamp"),
        (.invalidFetchSessionEpoch, 71, "invalidFetchSessionEpoch"),
        (.principalDeserializationFailure, 97, "principalDeserializationFailure"),
    ] as [(ErrorCode, Int16, String)])
    func goNames(code: ErrorCode, raw: Int16, name: String) {
        #expect(code.rawValue == raw)
        #expect(code.name == name)
    }

    @Test("retriability follows Kafka's classification")
    func retriable() {
        #expect(ErrorCode.notLeaderForPartition.isRetriable)
        #expect(ErrorCode.leaderNotAvailable.isRetriable)
        #expect(ErrorCode.requestTimeout.isRetriable)
        #expect(!ErrorCode.messageSizeTooLarge.isRetriable)
        #expect(!ErrorCode.offsetOutOfRange.isRetriable)
        #expect(!ErrorCode.topicAuthorizationFailed.isRetriable)
    }

    @Test("a code from a newer broker still round-trips")
    func unknownCodes() {
        let future = ErrorCode(rawValue: 120)
        #expect(!future.isKnown)
        #expect(future.name == "unknown120")
        #expect(!future.isRetriable)
    }

    @Test("KafkaError names the code and its text")
    func kafkaErrorDescription() {
        let error = KafkaError.broker(.unknownTopicOrPartition, message: "")
        #expect(error.description == "Unknown topic or partition (3 unknownTopicOrPartition)")
        #expect(error.errorCode == .unknownTopicOrPartition)
        #expect(KafkaError.noData.description == "no data")
        #expect(KafkaError.closed != KafkaError.mxClosed)
    }
}
