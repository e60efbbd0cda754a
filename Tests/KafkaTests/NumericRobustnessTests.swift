import Foundation
import Kafka
import KafkaTest
import PropertyBased
import Synchronization
import Testing

// Property tests for the defect "numeric configuration can trap the process": every numeric and
// Duration field of every conf, and the numeric arguments of the public calls, get extreme and
// random values. Each case must end in success or a thrown `KafkaError`; a trap (overflow, a
// negative count, a failed precondition) kills the test process, which is the failure this suite
// looks for. Retry waits go through a `VirtualClock`, and every case is shaped so it cannot block
// for real (see `bounded` in each case): a suite that may hang is worse than none.

// MARK: - Values

/// Extreme values of each numeric type the public API takes.
enum Extremes {
    static let ints: [Int] = [
        .min, .min + 1, Int(Int32.min) - 1, Int(Int32.min), -1_000_000, -2, -1, 0, 1, 2, 3, 10, 1000,
        Int(Int32.max) - 1, Int(Int32.max), Int(Int32.max) + 1, Int(UInt32.max), .max / 1000, .max / 2, .max - 1, .max,
    ]
    static let int32s: [Int32] = [
        .min, .min + 1, -1_000_000, -2, -1, 0, 1, 2, 3, 1023, 1024, 1_000_000, 100_000_000, 100_000_001,
        .max - 512, .max - 1, .max,
    ]
    static let int16s: [Int16] = [.min, -2, -1, 0, 1, 2, 3, 1000, 1001, .max]
    static let int64s: [Int64] = [.min, .min + 1, Int64(Int32.min), -2, -1, 0, 1, 2, Int64(Int32.max), Int64(UInt32.max), .max - 1, .max]
    /// The durations whose `components` do not trap: whole seconds within Int64.
    static let componentsRange = Duration.seconds(Int64.min)...Duration(secondsComponent: .max, attosecondsComponent: 999_999_999_999_999_999)
    static let durations: [Duration] = [
        .zero, Duration(secondsComponent: 0, attosecondsComponent: 1), Duration(secondsComponent: 0, attosecondsComponent: -1), .nanoseconds(1), .nanoseconds(-1), .milliseconds(1), .milliseconds(-1),
        .milliseconds(999), .seconds(1), .seconds(300), .seconds(301), .seconds(900), .seconds(901), .seconds(3600), .seconds(3601),
        .milliseconds(Int64(Int32.max)), .milliseconds(Int64(Int32.max) + 1), .seconds(Int64(Int32.max)),
        .seconds(Int64(Int32.max) / 1000), .seconds(Int64(Int32.max) / 1000 + 1),
        .seconds(Int64.max), .seconds(Int64.min), .seconds(Int64.max / 2), .seconds(-1),
        .nanoseconds(Int64.max), .nanoseconds(Int64.min), .milliseconds(Int64.max), .milliseconds(Int64.min),
        .microseconds(Int64.max), .microseconds(Int64.min),
        Duration(secondsComponent: Int64.max, attosecondsComponent: 999_999_999_999_999_999),
        Duration(secondsComponent: Int64.min, attosecondsComponent: -999_999_999_999_999_999),
        Duration(secondsComponent: 0, attosecondsComponent: 999_999_999_999_999_999),
        // Past Int64.max seconds: reachable by Duration arithmetic, where `components` traps.
        .seconds(Int64.max) * 18, .seconds(Int64.min) * 18, .seconds(Int64.max) * 2,
    ]
}

/// Reads values out of a generated bit stream: a third extremes, a third fully random,
/// a third small (mostly valid) values, so deep paths run as well as the validators.
struct Draw {
    let bits: [UInt64]
    private var index = 0

    init(_ bits: [UInt64]) { self.bits = bits }

    mutating func next() -> UInt64 {
        defer { index += 1 }
        return bits[index % bits.count] &+ UInt64(index / bits.count)
    }

    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    mutating func pick<T>(_ values: [T]) -> T { values[below(values.count)] }

    mutating func int() -> Int {
        switch below(3) {
        case 0: pick(Extremes.ints)
        case 1: Int(truncatingIfNeeded: next())
        default: below(40) - 3
        }
    }

    mutating func int32() -> Int32 {
        switch below(3) {
        case 0: pick(Extremes.int32s)
        case 1: Int32(truncatingIfNeeded: next())
        default: Int32(below(40)) - 3
        }
    }

    mutating func int64() -> Int64 {
        switch below(3) {
        case 0: pick(Extremes.int64s)
        case 1: Int64(truncatingIfNeeded: next())
        default: Int64(below(40)) - 3
        }
    }

    mutating func duration() -> Duration {
        switch below(3) {
        case 0: pick(Extremes.durations)
        case 1:
            Duration(
                secondsComponent: Int64(truncatingIfNeeded: next()),
                attosecondsComponent: Int64(truncatingIfNeeded: next()) % 1_000_000_000_000_000_000
            )
        default: .milliseconds(below(2_000) - 10)
        }
    }

    mutating func acks() -> RequiredAcks {
        switch below(4) {
        case 0: .none
        case 1: .local
        case 2: .all
        default: .count(below(2) == 0 ? pick(Extremes.int16s) : Int16(truncatingIfNeeded: next()))
        }
    }

    mutating func startOffset() -> StartOffset {
        switch below(4) {
        case 0: .oldest
        case 1: .newest
        default: .offset(int64())
        }
    }

    /// Whether a field of `count` fields is the one varied (half the cases vary one field, the rest all).
    mutating func focus(_ count: Int) -> (Int) -> Bool {
        let chosen = below(count * 2)
        return { field in chosen >= count || chosen == field }
    }
}

/// The input of one case: a bit stream, shown in failures with what it decodes to.
struct Bits: CustomStringConvertible, Sendable {
    let bits: [UInt64]
    var description: String { "bits \(bits)" }
}

let bitsGenerator = Gen.int64().array(of: 40).map { Bits(bits: $0.map { UInt64(bitPattern: $0) }) }

// MARK: - Outcome checks

/// Counts the cases and how they ended, across the suite (for the report printed by each test).
let caseTally = Mutex<(cases: Int, succeeded: Int, rejected: Int)>((0, 0, 0))

/// Runs one case: success or a thrown `KafkaError` pass; any other error is an issue. A trap never returns.
func outcome(_ what: @autoclosure () -> String, _ body: () async throws -> Void) async {
    // NUMERIC_TRACE=1 prints each case before it runs, to name the input of a trap.
    if ProcessInfo.processInfo.environment["NUMERIC_TRACE"] != nil { FileHandle.standardError.write(Data("case: \(what())\n".utf8)) }
    do {
        try await body()
        caseTally.withLock {
            $0.cases += 1
            $0.succeeded += 1
        }
    } catch is KafkaError {
        caseTally.withLock {
            $0.cases += 1
            $0.rejected += 1
        }
    } catch {
        Issue.record("\(what()) threw \(type(of: error)): \(error), not a KafkaError")
    }
}

/// One embedded single-broker cluster per test, shared by its cases, with a broker dialled on it.
final class Fixture: Sendable {
    let cluster: MockCluster
    let broker: Broker
    /// Topic "data": 2 partitions, one message at offset 0 of partition 0.
    let topic = "data"

    init() throws {
        cluster = try MockCluster(brokers: 1)
        try cluster.createTopic(topic, partitions: 2)
        broker = try Broker.dial(cluster.addresses, conf: Fixture.quickConf())
        var messages = [Message(key: "k", value: "v")]
        try broker.producer().produce(topic, partition: 0, messages: &messages)
    }

    deinit {
        broker.close()
        cluster.close()
    }

    /// Short, bounded retries and a virtual clock: the conf of brokers whose fields are not under test.
    static func quickConf() -> BrokerConf {
        var conf = BrokerConf(clientID: "numeric")
        conf.clock = VirtualClock()
        conf.dialRetryLimit = 3
        conf.leaderRetryLimit = 3
        conf.retryErrLimit = 3
        return conf
    }
}

/// The blocking `sleep(for:)` of `clock` (an `async` caller would otherwise get the `async` one).
func sleepBlocking(_ clock: some RetryClock, _ duration: Duration) {
    clock.sleep(for: duration)
}

/// Runs a blocking case on a thread of its own (never on the two-thread cooperative pool).
func blocking(_ body: @escaping @Sendable () throws -> Void) async throws {
    try await onThread(body)
}

// MARK: - Suite

@Suite("NumericRobustness", .shrinking(false))
struct NumericRobustnessTests {
    // MARK: BrokerConf

    @Test("BrokerConf: every numeric and Duration field, at dial and in the handles made from it", .timeLimit(.minutes(2)))
    func brokerConf() async throws {
        let fixture = try Fixture()
        await propertyCheck(count: 100, input: bitsGenerator) { input in
            var draw = Draw(input.bits)
            let varies = draw.focus(8)
            var conf = BrokerConf(clientID: "numeric")
            conf.clock = VirtualClock()
            if varies(0) { conf.dialTimeout = draw.duration() }
            if varies(1) { conf.dialRetryLimit = draw.int() }
            if varies(2) { conf.dialRetryWait = draw.duration() }
            if varies(3) { conf.leaderRetryLimit = draw.int() }
            if varies(4) { conf.leaderRetryWait = draw.duration() }
            if varies(5) { conf.retryErrLimit = draw.int() }
            if varies(6) { conf.retryErrWait = draw.duration() }
            if varies(7) { conf.readTimeout = draw.duration() }
            // Bounded: against a live cluster the first dial attempt succeeds unless dialTimeout is
            // too short to fetch metadata; then every attempt fails at once, so many attempts would
            // loop (instantly, on the virtual clock) for as long as dialRetryLimit says.
            if conf.dialTimeout < .seconds(2) { conf.dialRetryLimit = min(conf.dialRetryLimit, 3) }
            let dialConf = conf
            let topic = fixture.topic
            let addresses = fixture.cluster.addresses
            let partition = draw.int32()
            await outcome("dial with \(dialConf)") {
                try await blocking {
                    let broker = try Broker.dial(addresses, conf: dialConf)
                    defer { broker.close() }
                    // Handles made from the broker take its fields too (producer message timeout,
                    // consumer and coordinator socket settings). The topic is known, so
                    // leaderRetryLimit refreshes never loop: a missing partition fails after one.
                    var messages = [Message(value: "b")]
                    _ = try broker.producer().produce(topic, partition: 0, messages: &messages)
                    _ = try broker.watermarks(topic, partition: 0)
                    var consumerConf = ConsumerConf(topic: topic, partition: 0)
                    consumerConf.retryLimit = 0
                    _ = try broker.consumer(consumerConf).consume()
                    _ = try broker.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: "g")).offset(topic, partition: 0)
                    do {
                        _ = try broker.watermarks(topic, partition: partition)
                    } catch is KafkaError {}
                }
            }
        }
        report("BrokerConf")
    }

    // MARK: ProducerConf and produce

    @Test("ProducerConf fields and produce's partition, blocking and async", .timeLimit(.minutes(2)))
    func producerConf() async throws {
        let fixture = try Fixture()
        await propertyCheck(count: 150, input: bitsGenerator) { input in
            var draw = Draw(input.bits)
            let varies = draw.focus(5)
            var conf = ProducerConf()
            if varies(0) { conf.requestTimeout = draw.duration() }
            if varies(1) { conf.retryLimit = draw.int() }
            if varies(2) { conf.retryWait = draw.duration() }
            if varies(3) { conf.requiredAcks = draw.acks() }
            let partition: Int32 = varies(4) ? draw.int32() : Int32(draw.below(2))
            // Bounded: a request timeout too short for the ack, or an ack count the single broker
            // cannot satisfy, can fail every attempt; then retryLimit attempts would all be made.
            if conf.requestTimeout < .seconds(1) { conf.retryLimit = min(conf.retryLimit, 3) }
            if case .count = conf.requiredAcks { conf.retryLimit = min(conf.retryLimit, 3) }
            let producerConf = conf
            let async = draw.below(2) == 0
            await outcome("produce to \(partition) with \(producerConf)") {
                let producer = try fixture.broker.producer(producerConf)
                var messages = [Message(key: "k", value: "p")]
                if async {
                    _ = try await producer.produce(fixture.topic, partition: partition, messages: &messages)
                } else {
                    let topic = fixture.topic
                    try await blocking {
                        var messages = [Message(key: "k", value: "p")]
                        _ = try producer.produce(topic, partition: partition, messages: &messages)
                    }
                }
            }
        }
        report("ProducerConf")
    }

    // MARK: ConsumerConf and consume

    @Test("ConsumerConf fields: partition, startOffset, timeouts, retries, fetch sizes", .timeLimit(.minutes(2)))
    func consumerConf() async throws {
        let fixture = try Fixture()
        await propertyCheck(count: 150, input: bitsGenerator) { input in
            var draw = Draw(input.bits)
            let varies = draw.focus(9)
            var conf = ConsumerConf(topic: fixture.topic, partition: 0)
            if varies(0) { conf.partition = draw.int32() }
            if varies(1) { conf.requestTimeout = draw.duration() }
            if varies(2) { conf.retryLimit = draw.int() }
            if varies(3) { conf.retryWait = draw.duration() }
            if varies(4) { conf.retryErrLimit = draw.int() }
            if varies(5) { conf.retryErrWait = draw.duration() }
            if varies(6) { conf.minFetchSize = draw.int32() }
            if varies(7) { conf.maxFetchSize = draw.int32() }
            if varies(8) { conf.startOffset = draw.startOffset() }
            // Bounded: consume only where it returns promptly. Partition 0 holds offset 0 (and
            // may hold more from other cases: never more than this test wrote, none).
            let readsData: Bool = switch conf.startOffset {
            case .oldest: true
            case .offset(let value): value == 0 || value >= 2  // 0: the message; 2 or more: out of range
            case .newest: false
            }
            let emptyBudgetIsShort = (0...2).contains(conf.retryLimit) && conf.requestTimeout <= .milliseconds(200)
            // And short fetches only: one fetch (rd_kafka_consume_batch_queue) waits its whole
            // requestTimeout for a full batch of 1,000 even when a message is there, so a
            // consume with requestTimeout 300 s takes 300 s (see the report).
            let consumes = ((conf.partition == 0 && readsData) || emptyBudgetIsShort) && conf.requestTimeout <= .milliseconds(200)
            // Consumers with equal settings share a librdkafka handle, kept by the broker; a long
            // requestTimeout (never consumed, see below) gets a broker of its own, closed with the case.
            let ownBroker = conf.requestTimeout > .milliseconds(200)
            let consumerConf = conf
            await outcome("consumer with \(consumerConf)") {
                try await blocking {
                    let broker = ownBroker ? try Broker.dial(fixture.cluster.addresses, conf: Fixture.quickConf()) : fixture.broker
                    defer { if ownBroker { broker.close() } }
                    let consumer = try broker.consumer(consumerConf)
                    defer { consumer.close() }
                    if consumes { _ = try consumer.consume() }
                }
            }
        }
        report("ConsumerConf")
    }

    // MARK: OffsetCoordinatorConf, commit and offset

    @Test("OffsetCoordinatorConf fields, commit's partition and offset, offset's partition", .timeLimit(.minutes(2)))
    func offsetCoordinatorConf() async throws {
        let fixture = try Fixture()
        await propertyCheck(count: 150, input: bitsGenerator) { input in
            var draw = Draw(input.bits)
            let varies = draw.focus(5)
            var conf = OffsetCoordinatorConf(consumerGroup: "group-\(draw.below(4))")
            if varies(0) { conf.retryErrLimit = draw.int() }
            if varies(1) { conf.retryErrWait = draw.duration() }
            if varies(2) { conf.requestTimeout = draw.duration() }
            let partition: Int32 = varies(3) ? draw.int32() : Int32(draw.below(2))
            let offset: Int64 = varies(4) ? draw.int64() : Int64(draw.below(100))
            // Bounded: a request timeout too short for the coordinator's answer times out every
            // attempt; then retryErrLimit attempts would all be made.
            if conf.requestTimeout < .seconds(1) { conf.retryErrLimit = min(conf.retryErrLimit, 3) }
            let coordinatorConf = conf
            await outcome("coordinator \(coordinatorConf), partition \(partition), offset \(offset)") {
                try await blocking {
                    let coordinator = try fixture.broker.offsetCoordinator(coordinatorConf)
                    defer { coordinator.close() }
                    do {
                        try coordinator.commit(fixture.topic, partition: partition, offset: offset, metadata: "m")
                    } catch is KafkaError {}
                    _ = try coordinator.offset(fixture.topic, partition: partition)
                }
            }
        }
        report("OffsetCoordinatorConf")
    }

    // MARK: Broker calls

    @Test("Broker calls: watermarks, offsetEarliest/Latest, partitionCount, createTopic/deleteTopic counts and timeouts", .timeLimit(.minutes(2)))
    func brokerCalls() async throws {
        let fixture = try Fixture()
        let adminConf = {
            var conf = Fixture.quickConf()
            conf.readTimeout = .milliseconds(200)
            return conf
        }()
        let admin = try await onThread { try Broker.dial(fixture.cluster.addresses, conf: adminConf) }
        defer { admin.close() }
        await propertyCheck(count: 150, input: bitsGenerator) { input in
            var draw = Draw(input.bits)
            let partition = draw.int32()
            let partitions = draw.int32()
            let replication = draw.int32()
            var timeout: Duration? = draw.below(4) == 0 ? nil : draw.duration()
            // Bounded: librdkafka 2.0.2's mock serves no admin API, so a valid CreateTopics or
            // DeleteTopics waits for its whole timeout (nil: the broker's readTimeout, 200 ms on
            // `admin`); keep those short. Past about 24.8 days, NativeAdmin.swift:64 wraps
            // `timeout.milliseconds &+ 1000` to a negative, that is infinite, poll: see the report.
            if let chosen = timeout, chosen > .milliseconds(100) { timeout = .milliseconds(100) }
            let adminTimeout = timeout
            let which = draw.below(5)
            await outcome("broker call \(which), timeout \(String(describing: adminTimeout)), partition \(partition), partitions \(partitions), replication \(replication)") {
                try await blocking {
                    let broker = which >= 3 ? admin : fixture.broker
                    switch which {
                    case 0: _ = try broker.watermarks(fixture.topic, partition: partition)
                    case 1: _ = try broker.offsetEarliest(fixture.topic, partition: partition)
                    case 2: _ = try broker.offsetLatest(fixture.topic, partition: partition)
                    case 3:
                        try broker.createTopic("created", partitions: partitions, replicationFactor: replication, timeout: adminTimeout)
                    default: try broker.deleteTopic("created", timeout: adminTimeout)
                    }
                }
            }
        }
        report("Broker calls")
    }

    // MARK: Distributing producers

    @Test("HashProducer, RandomProducer, RoundRobinProducer partition counts", .timeLimit(.minutes(2)))
    func distributingProducers() async throws {
        let fixture = try Fixture()
        var conf = ProducerConf()
        conf.retryLimit = 3
        let producer = try fixture.broker.producer(conf)
        await propertyCheck(count: 150, input: bitsGenerator) { input in
            var draw = Draw(input.bits)
            let partitions = draw.int32()
            let kind = draw.below(3)
            let key = (0..<draw.below(8)).map { _ in UInt8(truncatingIfNeeded: draw.next()) }
            await outcome("distributing producer \(kind) over \(partitions) partitions") {
                try await blocking {
                    let distributing: any DistributingProducer = switch kind {
                    case 0: HashProducer(producer, partitions: partitions)
                    case 1: RandomProducer(producer, partitions: partitions)
                    default: RoundRobinProducer(producer, partitions: partitions)
                    }
                    for _ in 0..<3 {
                        var messages = [Message(key: key, value: Array("d".utf8))]
                        do {
                            _ = try distributing.distribute(fixture.topic, messages: &messages)
                        } catch let error as KafkaError where error.errorCode == .unknownTopicOrPartition {}
                    }
                    if let hashed = distributing as? HashProducer<BrokerProducer> {
                        _ = try hashed.partition(for: [Message(key: key, value: Array("x".utf8))])
                    }
                }
            }
        }
        report("Distributing producers")
    }

    // MARK: Mx

    @Test("Mx over consumers with extreme retry waits and small retry limits", .timeLimit(.minutes(2)))
    func mx() async throws {
        let fixture = try Fixture()
        await propertyCheck(count: 40, input: bitsGenerator) { input in
            var draw = Draw(input.bits)
            let count = draw.below(4)
            var confs: [ConsumerConf] = []
            for _ in 0..<count {
                var conf = ConsumerConf(topic: fixture.topic, partition: 0)
                // Bounded: each worker makes retryLimit + 1 empty fetches of at most 50 ms after
                // the message, then leaves; the retry waits are virtual, whatever their size.
                conf.retryLimit = draw.below(3)
                conf.requestTimeout = draw.pick([Duration(secondsComponent: 0, attosecondsComponent: 1), .nanoseconds(1), .milliseconds(1), .milliseconds(50)])
                conf.retryWait = draw.duration()
                conf.retryErrWait = draw.duration()
                conf.retryErrLimit = min(max(draw.int(), 1), 3)
                conf.startOffset = draw.pick([.oldest, .offset(0), .newest])
                confs.append(conf)
            }
            let consumerConfs = confs
            await outcome("Mx over \(count) consumers") {
                try await blocking {
                    let consumers = try consumerConfs.map { try fixture.broker.consumer($0) }
                    defer { consumers.forEach { $0.close() } }
                    let mx = Mx.merge(consumers)
                    defer { mx.close() }
                    if consumers.isEmpty { mx.close() }
                    while true {
                        do {
                            _ = try mx.consume()
                        } catch KafkaError.mxClosed {
                            break
                        } catch KafkaError.noData {}
                    }
                }
            }
        }
        report("Mx")
    }

    // MARK: MockCluster

    @Test("MockCluster: brokers, createTopic counts, setRTT, failNext delays and the other numeric calls", .timeLimit(.minutes(2)))
    func mockCluster() async throws {
        let fixture = try Fixture()
        // Fault injection goes to a second cluster that no client ever talks to, so a huge RTT or
        // a delayed answer queued by one case cannot stall another case's requests.
        let cluster = try MockCluster(brokers: 2, topics: [fixture.topic: 2])
        defer { cluster.close() }
        let topicNumber = Atomic<Int>(0)
        await propertyCheck(count: 200, input: bitsGenerator) { input in
            var draw = Draw(input.bits)
            let which = draw.below(12)
            let int = draw.int()
            let int32 = draw.int32()
            let other32 = draw.int32()
            let int64 = draw.int64()
            let other64 = draw.int64()
            let duration = draw.duration()
            let api = draw.pick([KafkaAPI.produce, .fetch, .metadata, .offsetCommit, .joinGroup])
            // Per-broker answers (with their delays) stay queued: only for APIs no client here sends.
            let replication = draw.below(2) == 0 ? draw.int() : 1
            let disconnects = draw.below(2) == 0
            let unusedAPI = draw.pick([KafkaAPI.joinGroup, .heartbeat, .syncGroup, .leaveGroup])
            await outcome("MockCluster call \(which) with \(int), replication \(replication), \(int32), \(other32), \(int64), \(other64), \(duration)") {
                try await blocking {
                    switch which {
                    case 0:
                        // Bounded: a valid count starts real brokers (threads and sockets); keep it small.
                        let brokers = (1...MockCluster.maxBrokers).contains(int) ? min(int, 4) : int
                        let extra = try MockCluster(brokers: brokers)
                        extra.close()
                    case 1:
                        // createTopic rejects counts outside 1...MockCluster.maxPartitions (librdkafka's
                        // mock aborted on them); counts inside are allocated for real, so keep them small.
                        guard int < 1 || int > MockCluster.maxPartitions || int <= 64 else { return }
                        let name = "c\(topicNumber.add(1, ordering: .relaxed).newValue)"
                        try fixture.cluster.createTopic(name, partitions: int, replicationFactor: replication)
                        _ = try fixture.broker.metadata()
                    case 2:
                        try cluster.setRTT(broker: int32, duration)
                        for broker: Int32 in 1...2 { try? cluster.setRTT(broker: broker, .zero) }
                    case 3:
                        try cluster.failNext(unusedAPI, on: int32, with: [(error: nil, delay: duration), (error: .notLeaderForPartition, delay: duration)])
                        _ = try cluster.pendingErrors(for: unusedAPI, on: int32)
                    case 4: _ = try cluster.pendingErrors(for: api, on: int32)
                    case 5:
                        try cluster.setFollowerWatermarks(topic: fixture.topic, partition: int32, low: int64, high: other64)
                    case 6:
                        // Leaves partition 1 only: partition 0 is what other cases read.
                        try cluster.setLeader(topic: fixture.topic, partition: int32 == 0 ? 1 : int32, broker: other32)
                        try? cluster.setLeader(topic: fixture.topic, partition: 1, broker: 1)
                    case 7:
                        try cluster.setCoordinator(group: "g", broker: int32)
                        try cluster.setCoordinator(group: "g", broker: 1)
                    case 8:
                        try cluster.coordinatorMoves(group: "moving", from: int32)
                    case 9:
                        // Counts outside 0...MockCluster.maxScriptedRequests are rejected; large valid ones
                        // would script that many requests, so keep those to 1000.
                        guard !(1001...MockCluster.maxScriptedRequests).contains(int) else { return }
                        if disconnects {
                            try cluster.disconnectNext(api, count: int)
                        } else {
                            try cluster.flaky(api, times: int)
                        }
                        try cluster.clearErrors(api)
                    case 10:
                        try cluster.setDown(broker: int32)
                        try cluster.setUp(broker: nil)
                    default:
                        try cluster.setFollower(topic: fixture.topic, partition: int32, broker: other32)
                    }
                }
            }
        }
        // The cluster still serves after all that.
        try await blocking {
            try cluster.setUp(broker: nil)
            let broker = try Broker.dial(cluster.addresses, conf: Fixture.quickConf())
            defer { broker.close() }
            _ = try broker.metadata()
        }
        report("MockCluster")
    }

    // MARK: Clocks

    @Test("VirtualClock: sleeps of any length, elapsed and counts", .timeLimit(.minutes(2)))
    func virtualClock() async throws {
        await propertyCheck(count: 200, input: bitsGenerator) { input in
            var draw = Draw(input.bits)
            let clock = VirtualClock()
            // A quarter of the cases sleep the longest durations many times, to sum past Int128.
            let durations = draw.below(4) == 0
                ? Array(repeating: draw.pick(Array(Extremes.durations.suffix(6))), count: 2 + draw.below(30))
                : (0..<(1 + draw.below(30))).map { _ in draw.duration() }
            await outcome("VirtualClock with \(durations)") {
                for (index, duration) in durations.enumerated() {
                    if index % 2 == 0 { sleepBlocking(clock, duration) } else { try await clock.sleep(for: duration) }
                }
                #expect(clock.sleeps == durations)
                _ = clock.elapsed
                _ = clock.count(of: durations[0])
                clock.reset()
                #expect(clock.elapsed == .zero)
            }
        }
        report("VirtualClock")
    }

    @Test("SystemRetryClock: async sleeps of any length are cancellable and never trap", .timeLimit(.minutes(2)))
    func systemRetryClock() async throws {
        await propertyCheck(count: 200, input: bitsGenerator) { input in
            var draw = Draw(input.bits)
            let duration = draw.duration()
            let runsFirst = draw.below(2) == 0
            await outcome("SystemRetryClock.sleep(for: \(duration))") {
                // Bounded: the sleep is cancelled at once; a non-positive or tiny one returns by itself.
                // Half the sleeps run a millisecond before they are cancelled, half are cancelled at once.
                let sleeper = Task { try await SystemRetryClock().sleep(for: duration) }
                if runsFirst { try? await Task.sleep(for: .milliseconds(1)) }
                sleeper.cancel()
                do {
                    try await sleeper.value
                } catch is CancellationError {}
                // The blocking sleep really blocks, so only what returns at once is tried: huge
                // values cannot be tried without waiting for them.
                if duration <= .microseconds(100) { sleepBlocking(SystemRetryClock(), duration) }
            }
        }
        report("SystemRetryClock")
    }

    private func report(_ name: String) {
        let tally = caseTally.withLock { $0 }
        print("NumericRobustness \(name) done: \(tally.cases) cases so far (\(tally.succeeded) succeeded, \(tally.rejected) rejected with a KafkaError)")
    }
}

