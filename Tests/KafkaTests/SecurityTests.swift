import Foundation
@testable import Kafka
import Testing
import KafkaTestSupport

@Suite("Typed security", .ownThreads)
struct SecurityTests {
    @Test("TLS and SASL map to librdkafka's properties; secrets stay out of descriptions")
    func mapping() throws {
        var conf = BrokerConf()
        conf.tls = TLSConfiguration(trustRoots: .pem("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
        conf.sasl = SASLConfiguration(.scramSHA512(username: "svc", password: "hunter2"))
        let properties = Dictionary(try conf.securityProperties(), uniquingKeysWith: { $1 })
        #expect(properties["security.protocol"] == "sasl_ssl")
        #expect(properties["sasl.mechanisms"] == "SCRAM-SHA-512")
        #expect(properties["sasl.username"] == "svc")
        #expect(properties["enable.ssl.certificate.verification"] == "true")
        #expect(properties["ssl.endpoint.identification.algorithm"] == "https")
        #expect(properties["ssl.ca.pem"]?.hasPrefix("-----BEGIN") == true)
        #expect("\(Secret("hunter2"))" == "[redacted]")
        #expect(!String(describing: conf.sasl as Any).contains("hunter2"))
        var plain = BrokerConf()
        plain.sasl = SASLConfiguration(.plain(username: "u", password: "p"))
        #expect(Dictionary(try plain.securityProperties(), uniquingKeysWith: { $1 })["security.protocol"] == "sasl_plaintext")
    }

    @Test("bad TLS and SASL settings fail at dial with a sentence naming the field, never the secret", arguments: [
        ("missing file", "trustRoots"), ("not PEM", "not PEM"), ("key without certificate", "both certificate and privateKey"),
        ("empty user", "empty username"),
    ])
    func validation(case name: String, mentions: String) throws {
        var conf = BrokerConf()
        switch name {
        case "missing file": conf.tls = TLSConfiguration(trustRoots: .file("/no/such/ca.pem"))
        case "not PEM": conf.tls = TLSConfiguration(privateKey: .secretPEM("hunter2"))
        case "key without certificate": conf.tls = TLSConfiguration(privateKey: .pem("-----BEGIN PRIVATE KEY-----"))
        default: conf.sasl = SASLConfiguration(.plain(username: "", password: "hunter2"))
        }
        let error = #expect(throws: KafkaError.self) { try Broker.dial(["127.0.0.1:1"], conf: conf) }
        #expect(error?.description.contains(mentions) == true, "\(String(describing: error))")
        #expect(error?.description.contains("hunter2") == false)
    }

    @Test("a TLS server whose certificate another CA signed fails the dial with a readable verification error",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")), .timeLimit(.minutes(1)))
    func wrongCertificateAuthority() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tls-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func openssl(_ arguments: [String]) throws { try runProgram("/usr/bin/openssl", arguments) }
        for ca in ["server-ca", "other-ca"] {
            try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=\(ca)",
                         "-keyout", "\(directory)/\(ca).key", "-out", "\(directory)/\(ca).pem"])
        }
        try openssl(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "\(directory)/server.key", "-out", "\(directory)/server.csr"])
        try openssl(["x509", "-req", "-in", "\(directory)/server.csr", "-CA", "\(directory)/server-ca.pem", "-CAkey", "\(directory)/server-ca.key",
                     "-CAcreateserial", "-days", "1", "-out", "\(directory)/server.pem"])
        let port = 22000 + Int.random(in: 0..<8000)
        let server = try BackgroundServer(URL(fileURLWithPath: "/usr/bin/openssl"), [
            "s_server", "-accept", "127.0.0.1:\(port)", "-cert", "\(directory)/server.pem", "-key", "\(directory)/server.key", "-quiet",
        ])
        defer { server.stop(SIGKILL) }
        var conf = BrokerConf()
        conf.dialRetryLimit = 2
        conf.dialRetryWait = .milliseconds(300)
        conf.dialTimeout = .seconds(3)
        conf.tls = TLSConfiguration(trustRoots: .file("\(directory)/other-ca.pem"))
        conf.tls?.verifiesHostname = false
        let start = ContinuousClock.now
        var error: KafkaError?
        while error == nil || error?.description.contains("refused") == true {  // until s_server listens
            do {
                _ = try Broker.dial(["127.0.0.1:\(port)"], conf: conf)
                Issue.record("dial succeeded against a server signed by another CA")
                return
            } catch let caught as KafkaError {
                error = caught
            }
            guard ContinuousClock.now - start < .seconds(30) else { break }
        }
        #expect(error?.description.lowercased().contains("certificate verify failed") == true, "\(String(describing: error))")
    }
}
