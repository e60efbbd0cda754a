/// Kafka protocol request types, by API key, for fault injection and request counts.
public struct KafkaAPI: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The API key on the wire.
    public let rawValue: Int16
    /// Wraps an API key.
    public init(rawValue: Int16) { self.rawValue = rawValue }

    /// Produce (0).
    public static let produce = KafkaAPI(rawValue: 0)
    /// Fetch (1).
    public static let fetch = KafkaAPI(rawValue: 1)
    /// ListOffsets (2), which watermark queries use.
    public static let listOffsets = KafkaAPI(rawValue: 2)
    /// Metadata (3).
    public static let metadata = KafkaAPI(rawValue: 3)
    /// OffsetCommit (8).
    public static let offsetCommit = KafkaAPI(rawValue: 8)
    /// OffsetFetch (9).
    public static let offsetFetch = KafkaAPI(rawValue: 9)
    /// FindCoordinator (10).
    public static let findCoordinator = KafkaAPI(rawValue: 10)
    /// JoinGroup (11).
    public static let joinGroup = KafkaAPI(rawValue: 11)
    /// Heartbeat (12).
    public static let heartbeat = KafkaAPI(rawValue: 12)
    /// LeaveGroup (13).
    public static let leaveGroup = KafkaAPI(rawValue: 13)
    /// SyncGroup (14).
    public static let syncGroup = KafkaAPI(rawValue: 14)
    /// ApiVersions (18).
    public static let apiVersions = KafkaAPI(rawValue: 18)
    /// InitProducerId (22), used by idempotent producers.
    public static let initProducerId = KafkaAPI(rawValue: 22)
    /// AddPartitionsToTxn (24): a transaction's first write to a partition.
    public static let addPartitionsToTxn = KafkaAPI(rawValue: 24)
    /// AddOffsetsToTxn (25): a transaction's offsets of a group, before TxnOffsetCommit.
    public static let addOffsetsToTxn = KafkaAPI(rawValue: 25)
    /// EndTxn (26): a transaction's commit or abort.
    public static let endTxn = KafkaAPI(rawValue: 26)
    /// TxnOffsetCommit (28): a transaction's offsets, sent to the group coordinator.
    public static let txnOffsetCommit = KafkaAPI(rawValue: 28)

    /// The request name as librdkafka's statistics spell it (`brokers[].req`).
    public var name: String {
        switch rawValue {
        case 0: "Produce"
        case 1: "Fetch"
        case 2: "ListOffsets"
        case 3: "Metadata"
        case 8: "OffsetCommit"
        case 9: "OffsetFetch"
        case 10: "FindCoordinator"
        case 11: "JoinGroup"
        case 12: "Heartbeat"
        case 13: "LeaveGroup"
        case 14: "SyncGroup"
        case 18: "ApiVersion"
        case 22: "InitProducerId"
        case 24: "AddPartitionsToTxn"
        case 25: "AddOffsetsToTxn"
        case 26: "EndTxn"
        case 28: "TxnOffsetCommit"
        default: "ApiKey\(rawValue)"
        }
    }

    public var description: String { "\(name) (\(rawValue))" }
}
