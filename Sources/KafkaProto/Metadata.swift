/// A snapshot of the cluster as a Metadata response describes it.
public struct ClusterMetadata: Sendable, Hashable {
    /// Every broker the cluster advertises.
    public var brokers: [BrokerMetadata]
    /// Every topic the response lists, in response order.
    public var topics: [TopicMetadata]
    /// The id of the broker that answered, or -1 when unknown.
    public var originatingBrokerID: Int32

    /// Creates a snapshot.
    public init(brokers: [BrokerMetadata], topics: [TopicMetadata], originatingBrokerID: Int32 = -1) {
        self.brokers = brokers
        self.topics = topics
        self.originatingBrokerID = originatingBrokerID
    }

    /// The topic named `name`, or `nil` when the snapshot does not list it.
    public func topic(_ name: String) -> TopicMetadata? {
        topics.first { $0.name == name }
    }
}

/// One broker of the cluster.
public struct BrokerMetadata: Sendable, Hashable {
    /// The broker's node id.
    public var id: Int32
    /// The advertised host name.
    public var host: String
    /// The advertised port.
    public var port: Int32

    /// Creates a broker entry.
    public init(id: Int32, host: String, port: Int32) {
        self.id = id
        self.host = host
        self.port = port
    }
}

/// One topic and its partitions.
public struct TopicMetadata: Sendable, Hashable {
    /// The topic name (may be empty when a broker reports a malformed entry).
    public var name: String
    /// The topic-level error the broker reported, `nil` for none.
    public var error: ErrorCode?
    /// The partitions, in response order.
    public var partitions: [PartitionMetadata]

    /// Creates a topic entry.
    public init(name: String, error: ErrorCode? = nil, partitions: [PartitionMetadata]) {
        self.name = name
        self.error = error
        self.partitions = partitions
    }
}

/// One partition: where it lives and how healthy it is.
public struct PartitionMetadata: Sendable, Hashable {
    /// The partition id.
    public var id: Int32
    /// The node id of the leader, -1 when there is none.
    public var leader: Int32
    /// Node ids of every replica.
    public var replicas: [Int32]
    /// Node ids of the in-sync replicas.
    public var inSyncReplicas: [Int32]
    /// The partition-level error the broker reported, `nil` for none.
    public var error: ErrorCode?

    /// Creates a partition entry.
    public init(id: Int32, leader: Int32, replicas: [Int32], inSyncReplicas: [Int32], error: ErrorCode? = nil) {
        self.id = id
        self.leader = leader
        self.replicas = replicas
        self.inSyncReplicas = inSyncReplicas
        self.error = error
    }
}
