/// Which librdkafka properties may hold secrets, so that their values never reach an
/// error, a description or a log line.
enum PropertyRedaction {
    /// What is shown instead of a secret value.
    static let mask = "[redacted]"

    /// True for keys whose values can be secrets: passwords, secrets, tokens, private keys,
    /// keystores, and everything under `sasl.` (user names included).
    static func isSecret(_ key: String) -> Bool {
        let lowered = key.lowercased()
        if lowered.hasPrefix("sasl.") || lowered.hasPrefix("ssl.key") || lowered.hasPrefix("ssl_key") || lowered.hasSuffix(".pem") { return true }
        return ["password", "secret", "token", "credential", "private", "keystore", "jaas"].contains { lowered.contains($0) }
    }

    /// `value`, or the mask when `key` may hold a secret.
    static func shown(_ key: String, _ value: String) -> String {
        isSecret(key) ? mask : value
    }
}

extension String {
    /// Replaces every occurrence of `target` (non-empty) with `replacement`.
    func replacingEvery(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}
