import Crdkafka

/// Topic and broker settings through librdkafka's admin API (DescribeConfigs, AlterConfigs), on a
/// handle the caller already owns; one outcome per resource.
extension NativeHandle {
    /// Every setting of each resource, or the resource's error.
    func describeConfigs(_ resources: [ConfigResource], timeout: Duration) throws -> [ConfigResource: Result<[String: ConfigEntry], KafkaError>] {
        try withConfigResources(resources.map { ($0, [:]) }) { rk, made in
            var outcomes: [ConfigResource: Result<[String: ConfigEntry], KafkaError>] = [:]
            try adminRequest(rk, "DescribeConfigs", timeout: timeout) { options, queue in
                rd_kafka_DescribeConfigs(rk, &made, made.count, options, queue)
            } read: { event in
                guard let result = rd_kafka_event_DescribeConfigs_result(event) else { return }
                var count = 0
                guard let described = rd_kafka_DescribeConfigs_result_resources(result, &count) else { return }
                for index in 0..<count {
                    guard let resource = described[index], let key = Self.resource(resource) else { continue }
                    if let error = Self.resourceError(resource) {
                        outcomes[key] = .failure(error)
                        continue
                    }
                    var entryCount = 0
                    var entries: [String: ConfigEntry] = [:]
                    if let list = rd_kafka_ConfigResource_configs(resource, &entryCount) {
                        for entryIndex in 0..<entryCount {
                            guard let entry = list[entryIndex] else { continue }
                            let name = rd_kafka_ConfigEntry_name(entry).map { String(cString: $0) } ?? ""
                            entries[name] = ConfigEntry(
                                name: name,
                                value: rd_kafka_ConfigEntry_value(entry).map { String(cString: $0) },
                                source: Self.source(rd_kafka_ConfigEntry_source(entry)),
                                isDefault: rd_kafka_ConfigEntry_is_default(entry) != 0,
                                isReadOnly: rd_kafka_ConfigEntry_is_read_only(entry) != 0,
                                isSensitive: rd_kafka_ConfigEntry_is_sensitive(entry) != 0
                            )
                        }
                    }
                    outcomes[key] = .success(entries)
                }
            }
            return outcomes
        }
    }

    /// Replaces each resource's dynamic settings with the ones given; nil for each the broker
    /// accepted, its error for each it refused.
    func alterConfigs(_ changes: [ConfigResource: [String: String]], timeout: Duration) throws -> [ConfigResource: KafkaError?] {
        try withConfigResources(changes.sorted { $0.key.description < $1.key.description }.map { ($0.key, $0.value) }) { rk, made in
            var outcomes: [ConfigResource: KafkaError?] = [:]
            try adminRequest(rk, "AlterConfigs", timeout: timeout) { options, queue in
                rd_kafka_AlterConfigs(rk, &made, made.count, options, queue)
            } read: { event in
                guard let result = rd_kafka_event_AlterConfigs_result(event) else { return }
                var count = 0
                guard let altered = rd_kafka_AlterConfigs_result_resources(result, &count) else { return }
                for index in 0..<count {
                    guard let resource = altered[index], let key = Self.resource(resource) else { continue }
                    outcomes.updateValue(Self.resourceError(resource), forKey: key)
                }
            }
            return outcomes
        }
    }

    private func withConfigResources<R>(
        _ resources: [(ConfigResource, [String: String])], _ body: (OpaquePointer, inout [OpaquePointer?]) throws -> R
    ) throws -> R {
        try withHandle { rk in
            var made: [OpaquePointer?] = []
            defer { for resource in made { rd_kafka_ConfigResource_destroy(resource) } }
            for (resource, settings) in resources {
                let made1: OpaquePointer? = switch resource {
                case .topic(let name): rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name)
                case .broker(let id): rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_BROKER, String(id))
                }
                guard let native = made1 else { throw KafkaError.invalidArgument("cannot name \(resource) for its settings") }
                made.append(native)
                for key in settings.keys.sorted() {
                    let code = rd_kafka_ConfigResource_set_config(native, key, settings[key])
                    guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code, detail: "\(resource) setting \(key)") }
                }
            }
            return try body(rk, &made)
        }
    }

    private static func resource(_ native: OpaquePointer) -> ConfigResource? {
        let name = rd_kafka_ConfigResource_name(native).map { String(cString: $0) } ?? ""
        switch rd_kafka_ConfigResource_type(native) {
        case RD_KAFKA_RESOURCE_TOPIC: return .topic(name)
        case RD_KAFKA_RESOURCE_BROKER: return Int32(name).map { .broker($0) }
        default: return nil
        }
    }

    private static func resourceError(_ native: OpaquePointer) -> KafkaError? {
        let code = rd_kafka_ConfigResource_error(native)
        guard code != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        return KafkaError(code, detail: rd_kafka_ConfigResource_error_string(native).map { String(cString: $0) })
    }

    private static func source(_ source: rd_kafka_ConfigSource_t) -> ConfigEntry.Source {
        switch source {
        case RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG: .dynamicTopic
        case RD_KAFKA_CONFIG_SOURCE_DYNAMIC_BROKER_CONFIG: .dynamicBroker
        case RD_KAFKA_CONFIG_SOURCE_DYNAMIC_DEFAULT_BROKER_CONFIG: .dynamicDefaultBroker
        case RD_KAFKA_CONFIG_SOURCE_STATIC_BROKER_CONFIG: .staticBroker
        case RD_KAFKA_CONFIG_SOURCE_DEFAULT_CONFIG: .defaultConfig
        default: .unknown
        }
    }
}
