import Foundation
import Kafka

// The Swift blocks of Kafka.docc/Security.md, verbatim (compiled, not run: they name files and
// brokers that do not exist here).

func docSecurityTLS(password: String) throws {
    var conf = BrokerConf(clientID: "billing")
    conf.tls = TLSConfiguration(trustRoots: .file("/etc/kafka/ca.pem"))          // verification on by default
    conf.tls?.certificate = .file("/etc/kafka/client.pem")                      // client authentication (mTLS), optional
    conf.tls?.privateKey = .secretPEM(Secret(ProcessInfo.processInfo.environment["KAFKA_KEY"] ?? ""))
    conf.sasl = SASLConfiguration(.scramSHA512(username: "billing", password: Secret(password)))
    let broker = try Broker.dial(["kafka:9093"], conf: conf)
    _ = broker
}

func docSecurityOAuth() {
    var conf = BrokerConf()
    conf.sasl = SASLConfiguration(.oauthBearer(provider: {
        SASLConfiguration.OAuthBearerToken(value: Secret(try fetchToken()), expiry: Date().addingTimeInterval(3600), principal: "billing")
    }))
    _ = conf
}
