import Foundation
import Kafka
import Logging
import Testing
import KafkaTestSupport

/// Every way a logger or crash reporter turns a value into text.
private func renderings(_ value: Any) -> [String: String] {
    var dumped = ""
    dump(value, to: &dumped)
    let mirror = Mirror(reflecting: value)
    let children = mirror.children.map { "\($0.label ?? "_"): \(String(reflecting: $0.value))" }.joined(separator: ", ")
    let store = CollectingHandler.Store()
    let logger = Logger(label: "reflection") { _ in CollectingHandler(store: store) }
    logger.info("value \(String(describing: value))", metadata: ["value": "\(value)", "reflected": "\(String(reflecting: value))"])
    let logged = store.lines.withLock { lines in
        lines.map { "\($0.1) \($0.2.map { "\($0.key)=\($0.value)" }.joined(separator: " "))" }.joined(separator: "\n")
    }
    return ["dump": dumped, "Mirror": children, "interpolation": "\(value)", "String(reflecting:)": String(reflecting: value), "swift-log": logged]
}

@Suite("Secrets under reflection", .ownThreads)
struct SecretReflectionTests {
    static let secret = "S3CRET-value-1234"

    static func holders() -> [(String, Any)] {
        let token = SASLConfiguration.OAuthBearerToken(value: Secret(secret), expiry: Date(timeIntervalSince1970: 0), principal: "svc")
        var tls = TLSConfiguration(privateKey: .secretPEM(Secret(secret)))
        tls.privateKeyPassword = Secret(secret)
        var withTLS = BrokerConf()
        withTLS.tls = tls
        var withSASL = BrokerConf()
        withSASL.sasl = SASLConfiguration(.scramSHA512(username: "svc", password: Secret(secret)))
        var withRaw = BrokerConf()
        withRaw.properties["sasl.password"] = secret
        return [
            ("Secret", Secret(secret)), ("TLSConfiguration", tls),
            ("SASLConfiguration", SASLConfiguration(.plain(username: "svc", password: Secret(secret)))),
            ("OAuthBearerToken", token), ("BrokerConf with TLS", withTLS), ("BrokerConf with SASL", withSASL),
            ("BrokerConf with a raw sasl.password", withRaw),
        ]
    }

    @Test("dump, Mirror, interpolation and a swift-log logger never show a secret", arguments: 0..<7)
    func noSecretShown(index: Int) {
        let (name, value) = Self.holders()[index]
        for (path, text) in renderings(value) {
            #expect(!text.contains(Self.secret), "\(name) shows its secret through \(path): \(text)")
        }
    }

    @Test("reflection still shows what is not secret")
    func restIsShown() {
        var conf = BrokerConf(clientID: "billing-service")
        conf.properties["sasl.password"] = Self.secret
        conf.properties["fetch.wait.max.ms"] = "77"
        var dumped = ""
        dump(conf, to: &dumped)
        #expect(dumped.contains("billing-service"))
        #expect(dumped.contains("77"))
        #expect(dumped.contains("[redacted]"))
    }
}
