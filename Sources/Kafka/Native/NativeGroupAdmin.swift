import Crdkafka
import Foundation

/// Consumer groups through librdkafka's admin API (ListConsumerGroups, DescribeConsumerGroups,
/// DeleteGroups, DeleteConsumerGroupOffsets), on a handle the caller already owns.
extension NativeHandle {
    /// Every group the brokers know; throws only when no broker answered with a list.
    func listGroups(timeout: Duration) throws -> [GroupListing] {
        try withHandle { rk in
            var listings: [GroupListing] = []
            try adminRequest(rk, "ListConsumerGroups", timeout: timeout) { options, queue in
                rd_kafka_ListConsumerGroups(rk, options, queue)
            } read: { event in
                guard let result = rd_kafka_event_ListConsumerGroups_result(event) else { return }
                var validCount = 0
                if let valid = rd_kafka_ListConsumerGroups_result_valid(result, &validCount) {
                    for index in 0..<validCount {
                        guard let listing = valid[index] else { continue }
                        listings.append(GroupListing(
                            id: rd_kafka_ConsumerGroupListing_group_id(listing).map { String(cString: $0) } ?? "",
                            state: Self.groupState(rd_kafka_ConsumerGroupListing_state(listing)),
                            isSimple: rd_kafka_ConsumerGroupListing_is_simple_consumer_group(listing) != 0
                        ))
                    }
                }
                var errorCount = 0
                // A broker that failed to answer leaves its groups out; that is an error only when
                // no broker answered at all.
                if validCount == 0, let errors = rd_kafka_ListConsumerGroups_result_errors(result, &errorCount), errorCount > 0,
                   let first = errors[0] {
                    throw KafkaError(rd_kafka_error_code(first), detail: rd_kafka_error_string(first).map { String(cString: $0) })
                }
            }
            return listings.sorted { $0.id < $1.id }
        }
    }

    /// Each group's description, or its error.
    func describeGroups(_ groups: [String], timeout: Duration) throws -> [String: Result<GroupDescription, KafkaError>] {
        try withHandle { rk in
            var outcomes: [String: Result<GroupDescription, KafkaError>] = [:]
            try withCStrings(groups) { names in
                try adminRequest(rk, "DescribeConsumerGroups", timeout: timeout) { options, queue in
                    rd_kafka_DescribeConsumerGroups(rk, names, groups.count, options, queue)
                } read: { event in
                    guard let result = rd_kafka_event_DescribeConsumerGroups_result(event) else { return }
                    var count = 0
                    guard let described = rd_kafka_DescribeConsumerGroups_result_groups(result, &count) else { return }
                    for index in 0..<count {
                        guard let group = described[index] else { continue }
                        let id = rd_kafka_ConsumerGroupDescription_group_id(group).map { String(cString: $0) } ?? ""
                        if let error = rd_kafka_ConsumerGroupDescription_error(group), rd_kafka_error_code(error) != RD_KAFKA_RESP_ERR_NO_ERROR {
                            outcomes[id] = .failure(KafkaError(rd_kafka_error_code(error), detail: "group \(id): " + (rd_kafka_error_string(error).map { String(cString: $0) } ?? "")))
                            continue
                        }
                        outcomes[id] = .success(Self.description(group, id))
                    }
                }
            }
            return outcomes
        }
    }

    /// Deletes each group (it must have no members); nil for each deleted, its error otherwise.
    func deleteGroups(_ groups: [String], timeout: Duration) throws -> [String: KafkaError?] {
        try withHandle { rk in
            var made: [OpaquePointer?] = groups.map { rd_kafka_DeleteGroup_new($0) }
            defer { for group in made { rd_kafka_DeleteGroup_destroy(group) } }
            guard !made.contains(where: { $0 == nil }) else { throw KafkaError.invalidArgument("cannot delete groups \(groups)") }
            var outcomes: [String: KafkaError?] = [:]
            try adminRequest(rk, "DeleteGroups", timeout: timeout) { options, queue in
                rd_kafka_DeleteGroups(rk, &made, made.count, options, queue)
            } read: { event in
                guard let result = rd_kafka_event_DeleteGroups_result(event) else { return }
                var count = 0
                guard let results = rd_kafka_DeleteGroups_result_groups(result, &count) else { return }
                for index in 0..<count {
                    guard let group = results[index] else { continue }
                    let name = rd_kafka_group_result_name(group).map { String(cString: $0) } ?? ""
                    let error: KafkaError? = rd_kafka_group_result_error(group).map {
                        KafkaError(rd_kafka_error_code($0), detail: "group \(name): " + (rd_kafka_error_string($0).map { String(cString: $0) } ?? ""))
                    }
                    outcomes.updateValue(error, forKey: name)
                }
            }
            return outcomes
        }
    }

    /// Deletes `group`'s committed offsets of `partitions`; nil for each deleted, its error otherwise.
    func deleteGroupOffsets(_ group: String, _ partitions: [TopicPartition], timeout: Duration) throws -> [TopicPartition: KafkaError?] {
        try withHandle { rk in
            try GroupHandle.withList(Dictionary(uniqueKeysWithValues: partitions.map { ($0, Int64(-1001)) })) { list in
                guard let request = rd_kafka_DeleteConsumerGroupOffsets_new(group, list) else {
                    throw KafkaError.invalidArgument("cannot delete the offsets of group \(group)")
                }
                defer { rd_kafka_DeleteConsumerGroupOffsets_destroy(request) }
                var outcomes: [TopicPartition: KafkaError?] = [:]
                try adminRequest(rk, "DeleteConsumerGroupOffsets for group \(group)", timeout: timeout) { options, queue in
                    var requests: [OpaquePointer?] = [request]
                    rd_kafka_DeleteConsumerGroupOffsets(rk, &requests, 1, options, queue)
                } read: { event in
                    guard let result = rd_kafka_event_DeleteConsumerGroupOffsets_result(event) else { return }
                    var count = 0
                    guard let groups = rd_kafka_DeleteConsumerGroupOffsets_result_groups(result, &count), count > 0, let first = groups[0] else { return }
                    if let error = rd_kafka_group_result_error(first) {
                        throw KafkaError(rd_kafka_error_code(error), detail: "group \(group): " + (rd_kafka_error_string(error).map { String(cString: $0) } ?? ""))
                    }
                    guard let list = rd_kafka_group_result_partitions(first) else { return }
                    for index in 0..<Int(list.pointee.cnt) {
                        let entry = list.pointee.elems[index]
                        let partition = TopicPartition(entry.topic.map { String(cString: $0) } ?? "", entry.partition)
                        let error: KafkaError? = entry.err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(entry.err, detail: "group \(group), \(partition)")
                        outcomes.updateValue(error, forKey: partition)
                    }
                }
                return outcomes
            }
        }
    }

    private static func description(_ group: OpaquePointer, _ id: String) -> GroupDescription {
        var members: [GroupMember] = []
        for index in 0..<rd_kafka_ConsumerGroupDescription_member_count(group) {
            guard let member = rd_kafka_ConsumerGroupDescription_member(group, index) else { continue }
            var assignment: [TopicPartition] = []
            if let assigned = rd_kafka_MemberDescription_assignment(member), let list = rd_kafka_MemberAssignment_partitions(assigned) {
                for entry in 0..<Int(list.pointee.cnt) {
                    let element = list.pointee.elems[entry]
                    assignment.append(TopicPartition(element.topic.map { String(cString: $0) } ?? "", element.partition))
                }
            }
            members.append(GroupMember(
                memberID: rd_kafka_MemberDescription_consumer_id(member).map { String(cString: $0) } ?? "",
                clientID: rd_kafka_MemberDescription_client_id(member).map { String(cString: $0) } ?? "",
                host: rd_kafka_MemberDescription_host(member).map { String(cString: $0) } ?? "",
                groupInstanceID: rd_kafka_MemberDescription_group_instance_id(member).map { String(cString: $0) },
                assignment: assignment.sorted()
            ))
        }
        return GroupDescription(
            id: id,
            state: groupState(rd_kafka_ConsumerGroupDescription_state(group)),
            partitionAssignor: rd_kafka_ConsumerGroupDescription_partition_assignor(group).map { String(cString: $0) } ?? "",
            isSimple: rd_kafka_ConsumerGroupDescription_is_simple_consumer_group(group) != 0,
            coordinator: rd_kafka_ConsumerGroupDescription_coordinator(group).map { rd_kafka_Node_id($0) },
            members: members.sorted { $0.memberID < $1.memberID }
        )
    }

    private static func groupState(_ state: rd_kafka_consumer_group_state_t) -> GroupState {
        switch state {
        case RD_KAFKA_CONSUMER_GROUP_STATE_PREPARING_REBALANCE: .preparingRebalance
        case RD_KAFKA_CONSUMER_GROUP_STATE_COMPLETING_REBALANCE: .completingRebalance
        case RD_KAFKA_CONSUMER_GROUP_STATE_STABLE: .stable
        case RD_KAFKA_CONSUMER_GROUP_STATE_DEAD: .dead
        case RD_KAFKA_CONSUMER_GROUP_STATE_EMPTY: .empty
        default: .unknown
        }
    }
}

/// Calls `body` with `strings` as a C array of C strings that live for the call.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>) throws -> R) throws -> R {
    let copies = strings.map { strdup($0) }
    defer { for copy in copies { free(copy) } }
    var pointers: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } }
    return try pointers.withUnsafeMutableBufferPointer { buffer in
        guard let base = buffer.baseAddress else { throw KafkaError.invalidArgument("no groups named") }
        return try body(base)
    }
}
