import Foundation
import Kafka
import KafkaTest
import KafkaTestSupport

typealias TestCluster = IntegrationCluster

func values(_ range: Range<Int>, prefix: String = "m") -> [Message] {
    range.map { Message(key: "k\($0)", value: "\(prefix)\($0)") }
}

extension Message {
    var text: String? { value.map { String(decoding: $0, as: UTF8.self) } }
}

