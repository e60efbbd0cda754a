// The README's code blocks, verbatim: DocSnippetTests checks that they are here, so they compile.
import Kafka

func process(_ broker: Broker) async throws {
    var conf = ProcessingConf()
    conf.concurrency = 64
    let loop = try ProcessingLoop(broker: broker, group: GroupConsumerConf(group: "billing", topics: ["orders"]), conf: conf) { message in
        try await Task.sleep(for: .milliseconds(1))   // the handler's I/O
    }
    try await loop.run()   // until the task is cancelled
}
