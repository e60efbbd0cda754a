import Foundation
import Kafka

/// Consumer groups and their committed offsets in the in-memory cluster.
extension MockAdmin {
    /// Every group, sorted by id: those with committed offsets, and those members joined since
    /// they were last deleted (Kafka keeps an emptied group until its offsets expire). `.stable`
    /// with members, `.empty` without; simple when no member ever joined it.
    /// - Throws: `KafkaError.closed`.
    public func listGroups() throws -> [GroupListing] {
        try withOpenState { () throws(KafkaError) in
            let withOffsets = state.committed.filter { !$0.value.isEmpty }.keys
            return Set(withOffsets).union(state.groups.members.keys).sorted().map { id in
                GroupListing(id: id, state: members(of: id).isEmpty ? .empty : .stable, isSimple: state.groups.members[id] == nil)
            }
        }
    }

    /// Each group's state, assignor (the strategy of its first member), coordinator (1) and
    /// members with the partitions assigned to them. A group that does not exist is described as
    /// Kafka does: `.dead`, simple, no assignor and no members.
    /// - Throws: librdkafka's local invalid-argument error for an id given twice; `KafkaError.closed`.
    public func describeGroups(_ groups: [String]) throws -> [String: Result<GroupDescription, KafkaError>] {
        try withOpenState { () throws(KafkaError) in
            guard repeated(groups).isEmpty else { throw Self.duplicates("groups") }
            var outcomes: [String: Result<GroupDescription, KafkaError>] = [:]
            for id in groups {
                let current = members(of: id)
                let exists = exists(group: id)
                outcomes[id] = .success(GroupDescription(
                    id: id,
                    state: !exists ? .dead : current.isEmpty ? .empty : .stable,
                    partitionAssignor: current.first?.conf.assignmentStrategy.rawValue ?? "",
                    isSimple: !exists || state.groups.members[id] == nil,
                    coordinator: Self.broker.id,
                    members: current.map(Self.describe).sorted { $0.memberID < $1.memberID }
                ))
            }
            return outcomes
        }
    }

    /// Deletes each group and its committed offsets. A group with members fails with
    /// `nonEmptyGroup`, one that does not exist with `groupIdNotFound`, an empty id with Kafka's
    /// INVALID_GROUP_ID (this library's `unknownPartitionAssignmentStrategy`, code 24).
    /// - Throws: librdkafka's local invalid-argument error for an id given twice; `KafkaError.closed`.
    public func deleteGroups(_ groups: [String]) throws -> [String: Result<Void, KafkaError>] {
        try withOpenState { () throws(KafkaError) in
            guard repeated(groups).isEmpty else { throw Self.duplicates("groups") }
            var outcomes: [String: Result<Void, KafkaError>] = [:]
            for id in groups {
                let count = members(of: id).count
                if id.isEmpty {
                    outcomes[id] = .failure(.broker(.unknownPartitionAssignmentStrategy, message: "the group id is empty"))
                } else if count > 0 {
                    outcomes[id] = .failure(.broker(.nonEmptyGroup, message: "group \(id) has \(count) active member(s)"))
                } else if !exists(group: id) {
                    outcomes[id] = .failure(.broker(.groupIdNotFound, message: "group \(id) does not exist"))
                } else {
                    state.committed[id] = nil
                    // Joined again later, it starts over (and is simple until a member joins).
                    state.groups.members[id] = nil
                    outcomes[id] = .success(())
                }
            }
            return outcomes
        }
    }

    /// The committed offsets of `group` in every partition of `topics` (nil, the default: in every
    /// partition it committed an offset for); partitions without one are left out, as
    /// `Broker.committedOffsets(group:topics:)` does.
    /// - Throws: `KafkaError.invalidArgument(_:)` for an empty group id or an illegal topic name;
    ///   `unknownTopicOrPartition` for a named topic that does not exist; `KafkaError.closed`.
    public func committedOffsets(group: String, topics: [String]? = nil) throws -> [TopicPartition: Int64] {
        try withOpenState { () throws(KafkaError) in try committed(group, topics) }
    }

    /// How far behind `group` is in every partition (of `topics`, or of every topic when nil) it
    /// committed an offset for: the committed offset against the high watermark.
    /// - Throws: as ``committedOffsets(group:topics:)-3qa4r``; `unknownTopicOrPartition` for an offset
    ///   committed in a partition that does not exist (``MockOffsetCoordinator`` commits unchecked).
    public func lag(group: String, topics: [String]? = nil) throws -> [TopicPartition: GroupLag] {
        try withOpenState { () throws(KafkaError) in
            var result: [TopicPartition: GroupLag] = [:]
            for (partition, offset) in try committed(group, topics) {
                guard exists(partition), let log = state.logs[partition.topic]?[Int(partition.partition)] else {
                    throw .broker(.unknownTopicOrPartition, message: "topic \(partition.topic) partition \(partition.partition) is unknown")
                }
                result[partition] = GroupLag(committed: offset, end: Int64(log.count))
            }
            return result
        }
    }

    /// Sets `group`'s committed offsets of the partitions in `offsets` (the next offset to read).
    /// As Kafka's coordinator, refuses while the group has any member, whichever partitions it
    /// reads: the group's members must leave first.
    /// - Throws: `KafkaError.invalidArgument(_:)` for a negative offset or an empty group id;
    ///   `unknownConsumerID` (Kafka's UNKNOWN_MEMBER_ID) while the group has members, nothing set;
    ///   `unknownTopicOrPartition` for a partition that does not exist (the others are set);
    ///   `KafkaError.closed`.
    public func resetOffsets(group: String, to offsets: [TopicPartition: Int64]) throws {
        try withOpenState { () throws(KafkaError) in
            try Self.requireGroupID(group)
            for (partition, offset) in offsets.sorted(by: { $0.key < $1.key }) where offset < 0 {
                throw .invalidArgument("offset \(offset) for \(partition) is negative; give the next offset the group reads")
            }
            let sorted = offsets.keys.sorted()
            guard let first = sorted.first else { return }
            guard members(of: group).isEmpty else { throw .broker(.unknownConsumerID, message: "group \(group), \(first)") }
            var unknown: TopicPartition?
            for partition in sorted {
                guard exists(partition) else {
                    unknown = unknown ?? partition
                    continue
                }
                state.committed[group, default: [:]]["\(partition.topic):\(partition.partition)"] = (offsets[partition] ?? 0, "")
            }
            if let unknown { throw .broker(.unknownTopicOrPartition, message: "group \(group), \(unknown)") }
        }
    }

    /// The offsets a reset of `group` to `target` in every partition of `topic` would commit,
    /// beside what it has committed now, with `KafkaAdmin.planReset(group:topic:to:)`'s rules;
    /// `.time` finds the first message whose timestamp is at or after the date (messages without
    /// one never match), else the end.
    /// - Throws: `KafkaError.invalidArgument(_:)` for a negative offset, an empty group id or an
    ///   illegal topic name; `unknownTopicOrPartition`; `KafkaError.closed`.
    public func planReset(group: String, topic: String, to target: ResetTarget) throws -> [TopicPartition: ResetStep] {
        try withOpenState { () throws(KafkaError) in
            try target.validate()
            let current = try committed(group, [topic])
            var plan: [TopicPartition: ResetStep] = [:]
            for (index, log) in (state.logs[topic] ?? []).enumerated() {
                let key = TopicPartition(topic, Int32(index))
                let low = state.logStart(topic, key.partition)
                let high = Int64(log.count)
                let next: Int64 = switch target {
                case .earliest: low
                case .latest: high
                case .time(let date):
                    log.dropFirst(Int(low)).first { ($0.timestamp ?? .min) >= Self.milliseconds(date) }?.offset ?? high
                case .offset(let offset): min(max(offset, low), high)
                }
                plan[key] = ResetStep(current: current[key], target: next)
            }
            return plan
        }
    }

    /// Deletes `group`'s committed offsets of `partitions`, each with its own outcome: a partition
    /// that does not exist fails with `unknownTopicOrPartition`, one of a topic a member of the
    /// group subscribes to with `groupSubscribedToTopic`; one without an offset succeeds.
    /// - Throws: `KafkaError.invalidArgument(_:)` for an empty group id; `groupIdNotFound` for a
    ///   group that does not exist; `KafkaError.closed`.
    public func deleteCommittedOffsets(group: String, partitions: [TopicPartition]) throws -> [TopicPartition: Result<Void, KafkaError>] {
        try withOpenState { () throws(KafkaError) in
            try Self.requireGroupID(group)
            guard !partitions.isEmpty else { return [:] }
            let current = members(of: group)
            guard exists(group: group) else {
                throw .broker(.groupIdNotFound, message: "group \(group): The group id does not exist")
            }
            let subscribed = Set(current.flatMap(\.conf.topics))
            var outcomes: [TopicPartition: Result<Void, KafkaError>] = [:]
            for partition in partitions {
                if !exists(partition) {
                    outcomes[partition] = .failure(.broker(.unknownTopicOrPartition, message: "group \(group), \(partition)"))
                } else if subscribed.contains(partition.topic) {
                    outcomes[partition] = .failure(.broker(.groupSubscribedToTopic, message: "group \(group), \(partition)"))
                } else {
                    state.committed[group]?["\(partition.topic):\(partition.partition)"] = nil
                    outcomes[partition] = .success(())
                }
            }
            if state.committed[group]?.isEmpty == true { state.committed[group] = nil }
            return outcomes
        }
    }

    // MARK: Internals (state lock held)

    /// The members of `group` now, in the order they joined.
    private func members(of group: String) -> [MockGroups.Member] {
        (state.groups.members[group] ?? []).sorted { $0.id < $1.id }
    }

    /// Whether `group` exists: it has committed offsets, or members joined it since it was last deleted.
    private func exists(group: String) -> Bool {
        state.groups.members[group] != nil || !(state.committed[group]?.isEmpty ?? true)
    }

    /// Whether `partition` exists.
    private func exists(_ partition: TopicPartition) -> Bool {
        partition.partition >= 0 && Int(partition.partition) < (state.logs[partition.topic]?.count ?? 0)
    }

    /// `group`'s committed offsets in `topics` (nil: all), with ``Broker/committedOffsets(group:topics:)``'s checks.
    private func committed(_ group: String, _ topics: [String]?) throws(KafkaError) -> [TopicPartition: Int64] {
        try Self.requireGroupID(group)
        if let topics {
            for topic in topics {
                try KafkaNames.validateTopic(topic)
                guard state.logs[topic] != nil else { throw .broker(.unknownTopicOrPartition, message: "topic \(topic) not found in metadata") }
            }
            // The real call names each partition of each topic, and librdkafka refuses a partition named twice.
            guard repeated(topics).isEmpty else { throw Self.duplicates("partitions") }
        }
        var offsets: [TopicPartition: Int64] = [:]
        for (key, entry) in state.committed[group] ?? [:] where entry.0 >= 0 {
            guard let partition = Self.partition(ofCommittedKey: key), topics?.contains(partition.topic) ?? true else { continue }
            offsets[partition] = entry.0
        }
        return offsets
    }

    private static func requireGroupID(_ group: String) throws(KafkaError) {
        guard !group.isEmpty else { throw .invalidArgument("the group id is empty; name the consumer group") }
    }

    /// librdkafka's local error for an item named twice in one admin request (`RD_KAFKA_RESP_ERR__INVALID_ARG`, -186).
    private static func duplicates(_ what: String) -> KafkaError {
        .local(code: -186, message: "Invalid argument or configuration: Duplicate \(what) not allowed")
    }

    /// A member as Kafka's DescribeGroups reports it.
    private static func describe(_ member: MockGroups.Member) -> GroupMember {
        let clientID = member.conf.properties["client.id"] ?? "swift-kafka"
        return GroupMember(
            memberID: "\(clientID)-\(member.id)", clientID: clientID, host: "/127.0.0.1",
            groupInstanceID: member.conf.instanceID, assignment: member.assignment.sorted()
        )
    }

    /// `date` in milliseconds since the epoch, as ``Broker/offsets(at:topic:)`` asks for it.
    private static func milliseconds(_ date: Date) -> Int64 {
        Int64(min(max((date.timeIntervalSince1970 * 1000).rounded(.down), 0), 9.2e18))
    }
}
