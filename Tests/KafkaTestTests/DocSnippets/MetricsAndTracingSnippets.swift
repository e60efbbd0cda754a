import Kafka
import Logging

// The Swift block of Kafka.docc/MetricsAndTracing.md, verbatim (compiled, not run).

func docLogging() throws {
    var conf = BrokerConf(clientID: "billing")
    var logger = Logger(label: "kafka")
    logger.logLevel = .info
    conf.logger = logger
    let broker = try Broker.dial(["localhost:9092"], conf: conf)
    broker.close()
}
