import Foundation
import Kafka

/// Topic and broker settings of the in-memory cluster.
extension MockAdmin {
    /// Every setting of each resource. A topic: all of Kafka's topic settings, its own with source
    /// `.dynamicTopic`, the others Kafka 3.9's defaults (`.defaultConfig`, `isDefault`); an unknown
    /// topic fails with `unknownTopicOrPartition`. Broker 1: only the settings
    /// ``alterConfigs(_:)-9ajtf`` stored on it (`.dynamicBroker`), none at first; another broker id fails
    /// with `invalidRequest`.
    /// - Throws: `KafkaError.closed`.
    public func describeConfigs(_ resources: [ConfigResource]) throws -> [ConfigResource: Result<[String: ConfigEntry], KafkaError>] {
        try withOpenState { () throws(KafkaError) in
            var outcomes: [ConfigResource: Result<[String: ConfigEntry], KafkaError>] = [:]
            for resource in resources {
                outcomes[resource] = outcome { () throws(KafkaError) in
                    switch resource {
                    case .topic(let name):
                        guard state.logs[name] != nil else { throw Self.unknownTopic(name) }
                        return topicEntries(name)
                    case .broker(let id):
                        try Self.requireBroker(id)
                        return state.brokerConfigs.reduce(into: [:]) { entries, setting in
                            entries[setting.key] = ConfigEntry(
                                name: setting.key, value: setting.value, source: .dynamicBroker, isDefault: false, isReadOnly: false, isSensitive: false
                            )
                        }
                    }
                }
            }
            return outcomes
        }
    }

    /// Sets each resource's dynamic settings to exactly the ones given (as Kafka's AlterConfigs, a
    /// topic setting not named returns to its default). A topic's settings are checked as Kafka
    /// checks them (`invalidConfig` for an unknown name or bad value, nothing changed); broker 1's
    /// are stored as given, unchecked; another broker id fails with `invalidRequest`.
    /// - Throws: `KafkaError.closed`.
    public func alterConfigs(_ changes: [ConfigResource: [String: String]]) throws -> [ConfigResource: Result<Void, KafkaError>] {
        try withOpenState { () throws(KafkaError) in
            changes.reduce(into: [:]) { outcomes, change in
                outcomes[change.key] = outcome { () throws(KafkaError) in try replace(change.key, with: change.value) }
            }
        }
    }

    /// Changes the named settings of each resource and keeps its other dynamic settings (the
    /// incremental change `KafkaAdmin.changeConfigs(_:)` makes by reading first; here atomic).
    /// Same checks and errors as ``alterConfigs(_:)-9ajtf``.
    /// - Throws: `KafkaError.closed`.
    public func changeConfigs(_ changes: [ConfigResource: [String: String]]) throws -> [ConfigResource: Result<Void, KafkaError>] {
        try withOpenState { () throws(KafkaError) in
            changes.reduce(into: [:]) { outcomes, change in
                outcomes[change.key] = outcome { () throws(KafkaError) in
                    let current: [String: String] = switch change.key {
                    case .topic(let name): state.topicConfigs[name] ?? [:]
                    case .broker: state.brokerConfigs
                    }
                    try replace(change.key, with: current.merging(change.value) { _, new in new })
                }
            }
        }
    }

    // MARK: Internals (state lock held)

    /// The settings of `topic` as Kafka describes them: its own over the defaults.
    func topicEntries(_ topic: String) -> [String: ConfigEntry] {
        var entries = MockTopicConfigs.known.reduce(into: [String: ConfigEntry]()) { entries, setting in
            entries[setting.key] = ConfigEntry(
                name: setting.key, value: setting.value.value, source: .defaultConfig, isDefault: true, isReadOnly: false, isSensitive: false
            )
        }
        for (name, value) in state.topicConfigs[topic] ?? [:] {
            entries[name] = ConfigEntry(name: name, value: value, source: .dynamicTopic, isDefault: false, isReadOnly: false, isSensitive: false)
        }
        return entries
    }

    /// Replaces the dynamic settings of `resource` with `settings`, after Kafka's checks.
    private func replace(_ resource: ConfigResource, with settings: [String: String]) throws(KafkaError) {
        switch resource {
        case .topic(let name):
            guard state.logs[name] != nil else { throw Self.unknownTopic(name) }
            try MockTopicConfigs.validate(settings)
            state.topicConfigs[name] = settings.isEmpty ? nil : settings
        case .broker(let id):
            try Self.requireBroker(id)
            state.brokerConfigs = settings
        }
    }

    private static func unknownTopic(_ name: String) -> KafkaError {
        .broker(.unknownTopicOrPartition, message: "topic \(name) does not exist")
    }

    /// Throws `invalidRequest`, as a Kafka broker answers for another broker's id, unless `id` is ``broker``'s.
    private static func requireBroker(_ id: Int32) throws(KafkaError) {
        guard id == broker.id else {
            throw .broker(.invalidRequest, message: "Unexpected broker id, expected \(broker.id) or empty string, but received \(id)")
        }
    }
}
