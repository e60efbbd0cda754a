import Foundation

/// A secret value (password, private key, token): usable by the library, never shown.
/// Its description, debug description and any error that names it read `[redacted]`.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, ExpressibleByStringLiteral {
    let value: String

    /// Wraps `value`.
    public init(_ value: String) {
        self.value = value
    }

    /// Wraps a literal (for tests; read real secrets from the environment or a file).
    public init(stringLiteral value: String) {
        self.value = value
    }

    /// Always `[redacted]`.
    public var description: String { PropertyRedaction.mask }
    /// Always `Secret([redacted])`.
    public var debugDescription: String { "Secret(\(PropertyRedaction.mask))" }
}

/// TLS for every connection to the brokers (librdkafka's `security.protocol` ssl or sasl_ssl).
/// Certificates are verified by default.
public struct TLSConfiguration: Sendable, Hashable {
    /// Where a certificate or key comes from.
    public enum Source: Sendable, Hashable {
        /// A PEM file at this path (checked to exist when the broker is dialled).
        case file(String)
        /// PEM text (`-----BEGIN ...`).
        case pem(String)
        /// PEM text of a private key, kept as a ``Secret``.
        case secretPEM(Secret)
    }

    /// CA certificates that sign the brokers' certificates; nil (the default) uses the system's roots.
    public var trustRoots: Source?
    /// This client's certificate, for brokers that require client authentication (mTLS). Default nil.
    public var certificate: Source?
    /// The private key of ``certificate``. Default nil.
    public var privateKey: Source?
    /// The password of an encrypted ``privateKey``. Default nil.
    public var privateKeyPassword: Secret?
    /// Whether the brokers' certificate chains are verified. Default true; turn off only for tests.
    public var verifiesCertificates = true
    /// Whether the broker's host name must match its certificate. Default true.
    public var verifiesHostname = true

    /// TLS with the system's trust roots and verification on.
    public init(trustRoots: Source? = nil, certificate: Source? = nil, privateKey: Source? = nil) {
        self.trustRoots = trustRoots
        self.certificate = certificate
        self.privateKey = privateKey
    }
}

/// SASL authentication (librdkafka's `security.protocol` sasl_plaintext or, with TLS, sasl_ssl).
public struct SASLConfiguration: Sendable {
    /// A bearer token and how long it is valid, for OAUTHBEARER.
    public struct OAuthBearerToken: Sendable {
        /// The token.
        public var value: Secret
        /// When it stops being valid.
        public var expiry: Date
        /// The principal it names.
        public var principal: String

        /// A token for `principal`, valid until `expiry`.
        public init(value: Secret, expiry: Date, principal: String) {
            self.value = value
            self.expiry = expiry
            self.principal = principal
        }
    }

    /// The mechanism and its credentials.
    public enum Mechanism: Sendable {
        /// PLAIN: user name and password (use with TLS).
        case plain(username: String, password: Secret)
        /// SCRAM-SHA-256.
        case scramSHA256(username: String, password: Secret)
        /// SCRAM-SHA-512.
        case scramSHA512(username: String, password: Secret)
        /// OAUTHBEARER: `provider` is called when librdkafka needs a token (before the first
        /// connection and before the current one expires), on librdkafka's poll thread.
        case oauthBearer(provider: @Sendable () throws -> OAuthBearerToken)
    }

    /// The mechanism and credentials.
    public var mechanism: Mechanism

    /// SASL with `mechanism`.
    public init(_ mechanism: Mechanism) {
        self.mechanism = mechanism
    }
}

extension BrokerConf {
    /// The librdkafka properties of ``tls`` and ``sasl``; checks files and PEM text first.
    /// - Throws: `KafkaError.invalidConfiguration(_:)` naming the field, never a secret.
    func securityProperties() throws(KafkaError) -> [(String, String)] {
        guard tls != nil || sasl != nil else { return [] }
        var result: [(String, String)] = []
        switch (tls != nil, sasl != nil) {
        case (true, true): result.append(("security.protocol", "sasl_ssl"))
        case (true, false): result.append(("security.protocol", "ssl"))
        default: result.append(("security.protocol", "sasl_plaintext"))
        }
        if let tls {
            try Self.add(tls.trustRoots, file: "ssl.ca.location", pem: "ssl.ca.pem", field: "trustRoots", to: &result)
            try Self.add(tls.certificate, file: "ssl.certificate.location", pem: "ssl.certificate.pem", field: "certificate", to: &result)
            try Self.add(tls.privateKey, file: "ssl.key.location", pem: "ssl.key.pem", field: "privateKey", to: &result)
            if (tls.certificate == nil) != (tls.privateKey == nil) {
                throw .invalidConfiguration("TLSConfiguration needs both certificate and privateKey for client authentication, or neither")
            }
            if let password = tls.privateKeyPassword { result.append(("ssl.key.password", password.value)) }
            result.append(("enable.ssl.certificate.verification", tls.verifiesCertificates ? "true" : "false"))
            result.append(("ssl.endpoint.identification.algorithm", tls.verifiesHostname ? "https" : "none"))
        }
        if let sasl {
            switch sasl.mechanism {
            case .plain(let username, let password): try Self.credentials("PLAIN", username, password, to: &result)
            case .scramSHA256(let username, let password): try Self.credentials("SCRAM-SHA-256", username, password, to: &result)
            case .scramSHA512(let username, let password): try Self.credentials("SCRAM-SHA-512", username, password, to: &result)
            case .oauthBearer: result.append(("sasl.mechanisms", "OAUTHBEARER"))
            }
        }
        return result
    }

    private static func credentials(_ mechanism: String, _ username: String, _ password: Secret, to result: inout [(String, String)]) throws(KafkaError) {
        guard !username.isEmpty else { throw .invalidConfiguration("SASLConfiguration \(mechanism) has an empty username") }
        result += [("sasl.mechanisms", mechanism), ("sasl.username", username), ("sasl.password", password.value)]
    }

    private static func add(
        _ source: TLSConfiguration.Source?, file: String, pem: String, field: String, to result: inout [(String, String)]
    ) throws(KafkaError) {
        switch source {
        case nil: return
        case .file(let path):
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw .invalidConfiguration("TLSConfiguration.\(field): no readable file at \(path)")
            }
            result.append((file, path))
        case .pem(let text):
            guard text.contains("-----BEGIN") else {
                throw .invalidConfiguration("TLSConfiguration.\(field) is not PEM text (no \"-----BEGIN\" line)")
            }
            result.append((pem, text))
        case .secretPEM(let secret):
            guard secret.value.contains("-----BEGIN") else {
                throw .invalidConfiguration("TLSConfiguration.\(field) is not PEM text (no \"-----BEGIN\" line; contents not shown)")
            }
            result.append((pem, secret.value))
        }
    }
}

extension BrokerConf {
    /// The OAUTHBEARER token provider, when ``sasl`` uses it.
    var tokenProvider: (@Sendable () throws -> SASLConfiguration.OAuthBearerToken)? {
        if case .oauthBearer(let provider) = sasl?.mechanism { return provider }
        return nil
    }
}

extension Secret: CustomReflectable {
    /// No children: `dump`, `Mirror` and every logger or crash reporter that reflects a value
    /// (or a configuration holding one) see the type, never the value.
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

/// Raw librdkafka properties as reflection shows them: values of keys that can hold secrets
/// (`sasl.*`, passwords, private keys, ...) masked, as in log lines and errors.
func redactedForReflection(_ properties: [String: String]) -> [String: String] {
    Dictionary(uniqueKeysWithValues: properties.map { ($0.key, PropertyRedaction.shown($0.key, $0.value)) })
}
