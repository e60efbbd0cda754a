import Kafka
import KafkaTest
import KafkaTestSupport
import Testing

/// Where a contract test runs: the in-memory fakes, or the real client on the
/// embedded cluster (a real broker when `KAFKA_BROKERS` is set).
enum Target: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case inMemory = "Tier 1 MockBroker"
    case cluster = "Tier 2 Broker on MockCluster or KAFKA_BROKERS"
    var testDescription: String { rawValue }
}

/// A client, the clock its retry waits go through, and a way to make topics.
struct Fixture<C: Client> {
    let client: C
    let clock: VirtualClock
    var isTansu = false
    let makeTopic: (Int) throws -> String
}

/// One behaviour both tiers must show.
protocol Behaviour {
    func check<C: Client>(_ fixture: Fixture<C>) throws
}

/// One sender behaviour both tiers must show.
protocol SendingBehaviour {
    func check<C: SendingClient>(_ fixture: Fixture<C>) throws
}

/// One transactional behaviour both tiers must show.
protocol TransactionalBehaviour {
    func check<C: TransactionalClient>(_ fixture: Fixture<C>) throws
}

/// Checks a transactional `behaviour` on `target`.
func verifyTransactional(_ behaviour: some TransactionalBehaviour, on target: Target) throws {
    try onTarget(target, mock: { try behaviour.check($0) }, broker: { try behaviour.check($0) })
}

/// Checks `behaviour` on `target`, with instant, recorded retry waits.
func verify(_ behaviour: some Behaviour, on target: Target) throws {
    try onTarget(target, mock: { try behaviour.check($0) }, broker: { try behaviour.check($0) })
}

/// Checks a sender `behaviour` on `target`.
func verifySending(_ behaviour: some SendingBehaviour, on target: Target) throws {
    try onTarget(target, mock: { try behaviour.check($0) }, broker: { try behaviour.check($0) })
}

/// Runs the body of `target` with its fixture: a `MockBroker`, or a `Broker` on the cluster.
private func onTarget(_ target: Target, mock: (Fixture<MockBroker>) throws -> Void, broker onBroker: (Fixture<Broker>) throws -> Void) throws {
    let clock = VirtualClock()
    switch target {
    case .inMemory:
        let broker = MockBroker(clock: clock)
        var created = 0
        try mock(Fixture(client: broker, clock: clock) { partitions in
            created += 1
            broker.createTopic("topic-\(created)", partitions: Int32(partitions))
            return "topic-\(created)"
        })
        broker.close()
    case .cluster:
        let cluster = try IntegrationCluster()
        let broker = try cluster.dial { $0.clock = clock }
        defer { broker.close() }
        try onBroker(Fixture(client: broker, clock: clock, isTansu: cluster.isTansu) { try cluster.topic(partitions: $0) })
    }
}

func messages(_ range: Range<Int>) -> [Message] {
    range.map { Message(key: "key-\($0)", value: "value-\($0)") }
}

extension Message {
    /// The value as UTF-8 text, for assertions.
    var text: String? { value.map { String(decoding: $0, as: UTF8.self) } }
}
