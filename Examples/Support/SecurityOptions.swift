import ArgumentParser
import Foundation
import Kafka

/// The TLS and SASL options every example program takes, turned into ``BrokerConf/tls`` and
/// ``BrokerConf/sasl``. Secrets never come from a flag's value (it would land in the shell's
/// history): a SASL password comes from an environment variable or a file.
public struct SecurityOptions: ParsableArguments {
    /// The SASL mechanisms the examples offer (OAUTHBEARER needs code: a token provider).
    public enum Mechanism: String, ExpressibleByArgument, CaseIterable {
        case plain = "PLAIN"
        case scramSHA256 = "SCRAM-SHA-256"
        case scramSHA512 = "SCRAM-SHA-512"
    }

    /// `--tls`: TLS with the system's trust roots. Default off.
    @Flag(help: "Connect over TLS (implied by the other --tls options); the system's trust roots unless --tls-ca.")
    public var tls = false
    /// `--tls-ca`: the CA bundle that signs the brokers' certificates. Default nil.
    @Option(help: "PEM file of the CA certificates that sign the brokers' certificates.") public var tlsCa: String?
    /// `--tls-cert`: this client's certificate. Default nil.
    @Option(help: "PEM file of this client's certificate, for brokers that require client authentication.") public var tlsCert: String?
    /// `--tls-key`: the key of `--tls-cert`. Default nil.
    @Option(help: "PEM file of the private key of --tls-cert.") public var tlsKey: String?
    /// `--tls-insecure`: no verification of the brokers' certificates. Default off.
    @Flag(help: "Do not verify the brokers' certificates (tests only).") public var tlsInsecure = false
    /// `--sasl-mechanism`. Default nil (no SASL).
    @Option(help: "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.") public var saslMechanism: Mechanism?
    /// `--sasl-username`. Default nil.
    @Option(help: "SASL user name.") public var saslUsername: String?
    /// `--sasl-password-env`: where the password is read from. Default `KAFKA_SASL_PASSWORD`.
    @Option(help: "Environment variable holding the SASL password.") public var saslPasswordEnv = "KAFKA_SASL_PASSWORD"
    /// `--sasl-password-file`: a file whose first line is the password. Default nil.
    @Option(help: "File holding the SASL password (its first line); instead of the environment variable.") public var saslPasswordFile: String?

    /// No TLS and no SASL.
    public init() {}

    /// Checks that the files exist and the options that go together are given together.
    public func validate() throws {
        for (flag, path) in [("--tls-ca", tlsCa), ("--tls-cert", tlsCert), ("--tls-key", tlsKey), ("--sasl-password-file", saslPasswordFile)] {
            if let path, !FileManager.default.isReadableFile(atPath: path) { throw ValidationError("\(flag) \(path): no readable file there") }
        }
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
        if saslMechanism != nil, saslUsername == nil { throw ValidationError("--sasl-mechanism needs --sasl-username") }
        if saslMechanism == nil, saslUsername != nil || saslPasswordFile != nil { throw ValidationError("--sasl-username and --sasl-password-file need --sasl-mechanism") }
        if saslMechanism != nil, saslPasswordFile == nil, ProcessInfo.processInfo.environment[saslPasswordEnv] == nil {
            throw ValidationError("no SASL password: set \(saslPasswordEnv) or give --sasl-password-file")
        }
    }

    /// Whether any option asks for TLS.
    var usesTLS: Bool { tls || tlsCa != nil || tlsCert != nil || tlsInsecure }

    /// Sets `conf`'s TLS and SASL from the options.
    /// - Throws: ``KafkaError/invalidArgument(_:)`` when the password file cannot be read.
    public func apply(to conf: inout BrokerConf) throws {
        if usesTLS {
            var tls = TLSConfiguration(trustRoots: tlsCa.map { .file($0) }, certificate: tlsCert.map { .file($0) }, privateKey: tlsKey.map { .file($0) })
            tls.verifiesCertificates = !tlsInsecure
            tls.verifiesHostname = !tlsInsecure
            conf.tls = tls
        }
        guard let saslMechanism, let saslUsername else { return }
        let password = Secret(try readPassword())
        let mechanism: SASLConfiguration.Mechanism = switch saslMechanism {
        case .plain: .plain(username: saslUsername, password: password)
        case .scramSHA256: .scramSHA256(username: saslUsername, password: password)
        case .scramSHA512: .scramSHA512(username: saslUsername, password: password)
        }
        conf.sasl = SASLConfiguration(mechanism)
    }

    private func readPassword() throws -> String {
        if let saslPasswordFile {
            guard let text = try? String(contentsOfFile: saslPasswordFile, encoding: .utf8) else {
                throw KafkaError.invalidArgument("cannot read the SASL password file \(saslPasswordFile)")
            }
            return String(text.prefix { $0 != "\n" && $0 != "\r" })
        }
        return ProcessInfo.processInfo.environment[saslPasswordEnv] ?? ""
    }
}
