import Crdkafka
import Foundation
@testable import Kafka
import KafkaTest
import PropertyBased
import Synchronization
import Testing
import KafkaTestSupport

// Property tests for the defect "numeric configuration can trap the process": every numeric and
// Duration field of every conf, and the numeric arguments of the public calls, get extreme and
// random values. A trap (overflow, a negative count, a failed precondition) kills the test
// process. Beyond that, each case computes from its input, before it runs, the outcome the library
// must give (see `NumericModel`: the rules of the `validate()` methods, of librdkafka's property
// ranges and of the calls' doc comments) and asserts exactly that: success, with the values read
// back, or the specific error. Where timing decides (a timeout of a few milliseconds on a loaded
// machine), the model names the outcomes it allows and why. An input that meets a known library
// defect expects the correct outcome, and its mismatch is recorded as a known issue (see
// `KnownIssues`; none is marked now). Retry
// waits go through a `VirtualClock`, and every case is shaped so it cannot block for real (see
// "Bounded" in each case): a suite that may hang is worse than none.

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

// MARK: - Outcomes

/// The outcome a call must end in, computed from the case's input.
indirect enum ExpectedOutcome: Sendable, CustomStringConvertible {
    case success
    /// ``KafkaError/invalidConfiguration(_:)`` whose message contains this text (the field and its value).
    case invalidConfiguration(String)
    /// ``KafkaError/invalidArgument(_:)`` whose message contains this text.
    case invalidArgument(String)
    /// ``KafkaError/broker(_:message:)`` with this code.
    case broker(ErrorCode)
    /// ``KafkaError/local(code:message:)`` with this librdkafka code.
    case local(Int32)
    case noData
    case mxClosed
    /// `CancellationError`.
    case cancelled
    /// The call has not returned after this long (see `outcome(within:_:)`).
    case stillWaiting(after: Duration)
    /// Any one of these: timing decides between them, for the reason given.
    case oneOf([ExpectedOutcome], why: String)

    var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }

    /// Nil for success, else this failure: for models that chain the first failure with `??`.
    var failure: ExpectedOutcome? { isSuccess ? nil : self }

    func admits(_ actual: ActualOutcome) -> Bool {
        switch (self, actual) {
        case (.oneOf(let outcomes, _), _): outcomes.contains { $0.admits(actual) }
        case (.success, .success), (.cancelled, .cancelled), (.stillWaiting, .stillWaiting): true
        case (.invalidConfiguration(let text), .kafka(.invalidConfiguration(let message))): message.contains(text)
        case (.invalidArgument(let text), .kafka(.invalidArgument(let message))): message.contains(text)
        case (.broker(let code), .kafka(.broker(let actualCode, _))): code == actualCode
        case (.local(let code), .kafka(.local(let actualCode, _))): code == actualCode
        case (.noData, .kafka(.noData)), (.mxClosed, .kafka(.mxClosed)): true
        default: false
        }
    }

    var description: String {
        switch self {
        case .success: "success"
        case .invalidConfiguration(let text): "invalidConfiguration containing \"\(text)\""
        case .invalidArgument(let text): "invalidArgument containing \"\(text)\""
        case .broker(let code): "broker error \(code.name) (\(code.rawValue))"
        case .local(let code): "local error \(code) (\(NumericModel.localName(code)))"
        case .noData: "noData"
        case .mxClosed: "mxClosed"
        case .cancelled: "CancellationError"
        case .stillWaiting(let bound): "still waiting after \(bound)"
        case .oneOf(let outcomes, let why): "one of [\(outcomes.map(\.description).joined(separator: " | "))] (\(why))"
        }
    }
}

/// What a call ended in, in a form that crosses threads.
enum ActualOutcome: Sendable, CustomStringConvertible {
    case success
    case kafka(KafkaError)
    case cancelled
    /// The call had not returned when the case stopped waiting for it.
    case stillWaiting
    /// A value read back was wrong, or an error that is no `KafkaError` was thrown.
    case other(String)

    init(_ error: any Error) {
        switch error {
        case let error as KafkaError: self = .kafka(error)
        case is CancellationError: self = .cancelled
        default: self = .other("\(type(of: error)): \(error)")
        }
    }

    var description: String {
        switch self {
        case .success: "success"
        case .kafka(let error): "KafkaError \(error)"
        case .cancelled: "CancellationError"
        case .stillWaiting: "still waiting"
        case .other(let text): text
        }
    }
}

/// Thrown by a step whose call succeeded with a wrong value.
struct WrongValue: Error, CustomStringConvertible {
    let description: String
}

/// Throws ``WrongValue`` unless `condition` holds.
func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw WrongValue(description: "wrong value: \(message())") }
}

/// Counts the checked steps and how they ended, across the suite (for the report printed by each test).
let caseTally = Mutex<(steps: Int, succeeded: Int, rejected: Int)>((0, 0, 0))

/// One case: its input, the steps it ran, and what each had to end in and did. ``check(_:sourceLocation:)``
/// compares them when the case is over (in the test's task, since steps may run on a thread of
/// their own, where Swift Testing cannot attribute an issue).
final class NumericCase: Sendable {
    private struct Step: Sendable {
        let name: String
        let expected: ExpectedOutcome
        let actual: ActualOutcome
        let knownIssue: String?
    }

    let input: String
    private let steps = Mutex<[Step]>([])

    init(_ input: String) {
        self.input = input
        // NUMERIC_TRACE=1 prints each case before it runs, to name the input of a trap or a hang.
        if ProcessInfo.processInfo.environment["NUMERIC_TRACE"] != nil { FileHandle.standardError.write(Data("case: \(input)\n".utf8)) }
    }

    /// Runs one step; true when it succeeded, so that steps that need it go on. `knownIssue`
    /// names a library defect that this input meets: `expected` is then the correct outcome, and
    /// a mismatch is a known issue (see ``KnownIssues``).
    @discardableResult
    func step(_ name: String, _ expected: ExpectedOutcome, knownIssue: String? = nil, _ body: () throws -> Void) -> Bool {
        do {
            try body()
            return record(name, expected, .success, knownIssue: knownIssue)
        } catch {
            return record(name, expected, ActualOutcome(error), knownIssue: knownIssue)
        }
    }

    /// The `async` form of ``step(_:_:knownIssue:_:)``.
    @discardableResult
    func asyncStep(_ name: String, _ expected: ExpectedOutcome, _ body: () async throws -> Void) async -> Bool {
        do {
            try await body()
            return record(name, expected, .success)
        } catch {
            return record(name, expected, ActualOutcome(error))
        }
    }

    /// Records a step whose outcome the case found out by itself; true when it succeeded.
    @discardableResult
    func record(_ name: String, _ expected: ExpectedOutcome, _ actual: ActualOutcome, knownIssue: String? = nil) -> Bool {
        steps.withLock { $0.append(Step(name: name, expected: expected, actual: actual, knownIssue: knownIssue)) }
        if case .success = actual { return true }
        return false
    }

    /// One issue, on one line, for every step that did not end as it had to: the input, the
    /// step, the expected and the actual outcome. A step of a known library defect goes to
    /// `knownIssues` instead, and is an issue when it ends correctly (the defect is gone: drop the mark).
    func check(_ knownIssues: KnownIssues? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        for step in steps.withLock({ $0 }) {
            let admitted = step.expected.admits(step.actual)
            caseTally.withLock {
                $0.steps += 1
                if case .success = step.actual { $0.succeeded += 1 } else if admitted { $0.rejected += 1 }
            }
            let line = "\(input); \(step.name): expected \(step.expected), got \(step.actual)"
            switch (admitted, step.knownIssue, knownIssues) {
            case (true, nil, _): break
            case (true, let known?, _):
                Issue.record("\(input); \(step.name) ended correctly (\(step.actual)): the known issue \"\(known)\" is gone, drop its mark", sourceLocation: sourceLocation)
            case (false, let known?, let knownIssues?): knownIssues.add(known, line, sourceLocation)
            case (false, _, _):
                // Also on standard error: a mismatch of a timing-dependent case may not recur when
                // the property check runs the input again, and a CI log keeps only part of the output.
                FileHandle.standardError.write(Data("NumericRobustness mismatch: \(line)\n".utf8))
                Issue.record(Comment(rawValue: line), sourceLocation: sourceLocation)
            }
        }
    }
}

/// The mismatches of a test's cases that a known library defect explains, recorded as known
/// issues once the property check is over (`propertyCheck` counts a known issue recorded inside
/// it as a failure of its input).
final class KnownIssues: Sendable {
    private let found = Mutex<[(issue: String, line: String, location: SourceLocation)]>([])

    func add(_ issue: String, _ line: String, _ location: SourceLocation) {
        found.withLock { $0.append((issue, line, location)) }
    }

    /// Each mismatch as a known issue of its defect, one line each.
    func record() {
        for entry in found.withLock({ $0 }) {
            withKnownIssue(Comment(rawValue: entry.issue)) {
                Issue.record(Comment(rawValue: entry.line), sourceLocation: entry.location)
            }
        }
    }
}

/// ``outcome(within:_:)`` from a task: the wait runs on a thread of its own too.
func onOwnThreadOutcome(within bound: Duration, _ body: @escaping @Sendable () throws -> Void) async -> ActualOutcome {
    (try? await onThread { outcome(within: bound, body) }) ?? .stillWaiting
}

/// Runs `body` on a thread of its own and waits at most `bound` for it: its outcome, or
/// ``ActualOutcome/stillWaiting`` when it has not returned by then (it is left to end by itself).
func outcome(within bound: Duration, _ body: @escaping @Sendable () throws -> Void) -> ActualOutcome {
    final class Slot: Sendable {
        let value = Mutex<ActualOutcome?>(nil)
        let done = DispatchSemaphore(value: 0)
    }
    let slot = Slot()
    Thread {
        let actual: ActualOutcome
        do {
            try body()
            actual = .success
        } catch {
            actual = ActualOutcome(error)
        }
        slot.value.withLock { $0 = actual }
        slot.done.signal()
    }.start()
    _ = slot.done.wait(timeout: .now() + .milliseconds(Int(NumericModel.milliseconds(bound))))
    return slot.value.withLock { $0 } ?? .stillWaiting
}

// MARK: - The model

/// The rules each case's outcome follows, restated from the library's sources and docs.
enum NumericModel {
    /// The fixture's topic has partitions 0 and 1.
    static let partitionCount: Int32 = 2

    /// Whole milliseconds, rounded up and saturated at `Int32.max`, as the library hands a
    /// `Duration` to librdkafka (0 for zero and negative durations).
    static func milliseconds(_ duration: Duration) -> Int64 {
        guard duration > .zero else { return 0 }
        let perMillisecond: Int128 = 1_000_000_000_000_000
        let (whole, rest) = duration.attoseconds.quotientAndRemainder(dividingBy: perMillisecond)
        return Int64(min(rest > 0 ? whole + 1 : whole, Int128(Int32.max)))
    }

    /// The first failure among `checks`, in the order given (the order a `validate()` checks in).
    static func first(_ checks: ExpectedOutcome?...) -> ExpectedOutcome? {
        checks.lazy.compactMap { $0 }.first
    }

    static func atLeastOne(_ value: Int, _ field: String) -> ExpectedOutcome? {
        value >= 1 ? nil : .invalidConfiguration("\(field) is \(value);")
    }

    static func positive(_ value: Duration, _ field: String) -> ExpectedOutcome? {
        value > .zero ? nil : .invalidConfiguration("\(field) is \(value);")
    }

    static func notNegative(_ value: Duration, _ field: String) -> ExpectedOutcome? {
        value >= .zero ? nil : .invalidConfiguration("\(field) is \(value);")
    }

    /// librdkafka's range check of a numeric property the library derives from a field.
    static func property(_ key: String, _ value: Int64, _ range: ClosedRange<Int64>) -> ExpectedOutcome? {
        range.contains(value) ? nil : .invalidConfiguration("librdkafka property \(key)=\"\(value)\"")
    }

    /// A partition of the fixture's topic: negative is an invalid argument (`validatePartition`),
    /// past the last one `unknownTopicOrPartition` (`Broker.requirePartition`).
    static func partition(_ partition: Int32, of count: Int32 = partitionCount) -> ExpectedOutcome {
        if partition < 0 { return .invalidArgument("partition \(partition) is negative") }
        return partition < count ? .success : .broker(.unknownTopicOrPartition)
    }

    /// librdkafka's "timed out in queue": a request queued behind one that timed out.
    static let timedOutInQueue = RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE.rawValue

    /// `expected`, or, when `short`, also the ways librdkafka ends requests once a timeout too short
    /// for a loaded machine runs out: it fails the request in flight with "timed out" and, as it
    /// drops the connection (`socket.max.fails` 1), those queued behind it with "timed out in queue".
    static func timing(_ expected: ExpectedOutcome, short: Bool, _ why: @autoclosure () -> String) -> ExpectedOutcome {
        short ? .oneOf([expected, .local(LocalErrorCode.timedOut), .local(timedOutInQueue)], why: why()) : expected
    }

    static func localName(_ code: Int32) -> String {
        String(cString: rd_kafka_err2str(rd_kafka_resp_err_t(code)))
    }

    // MARK: BrokerConf

    /// `BrokerConf.validate()`, in its order.
    static func validation(_ conf: BrokerConf) -> ExpectedOutcome? {
        first(
            atLeastOne(conf.dialRetryLimit, "BrokerConf.dialRetryLimit"),
            atLeastOne(conf.leaderRetryLimit, "BrokerConf.leaderRetryLimit"),
            atLeastOne(conf.retryErrLimit, "BrokerConf.retryErrLimit"),
            positive(conf.dialTimeout, "BrokerConf.dialTimeout"),
            positive(conf.readTimeout, "BrokerConf.readTimeout"),
            notNegative(conf.dialRetryWait, "BrokerConf.dialRetryWait"),
            notNegative(conf.leaderRetryWait, "BrokerConf.leaderRetryWait"),
            notNegative(conf.retryErrWait, "BrokerConf.retryErrWait")
        )
    }

    /// Every handle of a broker gets `socket.timeout.ms` = `max(10, readTimeout)` ms, which
    /// librdkafka takes up to 300 s: past that `dial` throws its refusal (`validate()` checks only
    /// that readTimeout is positive).
    static func socketTimeout(_ conf: BrokerConf) -> ExpectedOutcome? {
        property("socket.timeout.ms", max(10, milliseconds(conf.readTimeout)), 10...300_000)
    }

    // MARK: ProducerConf

    /// `ProducerConf.validate()`, in its order.
    static func validation(_ conf: ProducerConf) -> ExpectedOutcome? {
        var acks: ExpectedOutcome?
        if case .count(let count) = conf.requiredAcks, count < 2 { acks = .invalidConfiguration("ProducerConf.requiredAcks count \(count) is not") }
        return first(
            atLeastOne(conf.retryLimit, "ProducerConf.retryLimit"),
            positive(conf.requestTimeout, "ProducerConf.requestTimeout"),
            notNegative(conf.retryWait, "ProducerConf.retryWait"),
            acks
        )
    }

    /// A producer handle's range-checked properties, in `ProducerSettings` order: the ack count
    /// (librdkafka takes -1...1000) and `request.timeout.ms` (1 ms to 900 s).
    static func producerProperties(_ conf: ProducerConf) -> ExpectedOutcome? {
        first(
            property("request.required.acks", Int64(conf.requiredAcks.rawValue), -1...1000),
            property("request.timeout.ms", max(1, milliseconds(conf.requestTimeout)), 1...900_000)
        )
    }

    // MARK: ConsumerConf

    /// `ConsumerConf.validate()`, in its order (a negative partition is an invalid argument there too).
    static func validation(_ conf: ConsumerConf) -> ExpectedOutcome? {
        var startOffset: ExpectedOutcome?
        if case .offset(let value) = conf.startOffset, value < 0 { startOffset = .invalidConfiguration("invalid start offset: \(value);") }
        return first(
            conf.partition < 0 ? .invalidArgument("partition \(conf.partition) is negative") : nil,
            conf.retryLimit < -1 ? .invalidConfiguration("ConsumerConf.retryLimit is \(conf.retryLimit);") : nil,
            atLeastOne(conf.retryErrLimit, "ConsumerConf.retryErrLimit"),
            positive(conf.requestTimeout, "ConsumerConf.requestTimeout"),
            conf.fetchWait.flatMap { positive($0, "ConsumerConf.fetchWait") },
            notNegative(conf.retryWait, "ConsumerConf.retryWait"),
            notNegative(conf.retryErrWait, "ConsumerConf.retryErrWait"),
            conf.minFetchSize < 1 ? .invalidConfiguration("ConsumerConf.minFetchSize is \(conf.minFetchSize);") : nil,
            conf.maxFetchSize < 1024 ? .invalidConfiguration("ConsumerConf.maxFetchSize is \(conf.maxFetchSize);") : nil,
            startOffset
        )
    }

    /// A consumer handle's range-checked properties, in `ConsumerSettings` order:
    /// `fetch.wait.max.ms` (fetchWait, or the smaller of requestTimeout and 100 ms, at least 1 ms;
    /// at most 300 s), `fetch.min.bytes` (at most 100,000,000), `fetch.max.bytes` (at most
    /// `Int32.max` - 512) and `max.partition.fetch.bytes` (at most 1,000,000,000). `validate()`
    /// checks only the lower bounds.
    static func consumerProperties(_ conf: ConsumerConf) -> ExpectedOutcome? {
        let fetchWait = max(1, milliseconds(conf.fetchWait ?? min(conf.requestTimeout, .milliseconds(100))))
        return first(
            property("fetch.wait.max.ms", fetchWait, 0...300_000),
            property("fetch.min.bytes", Int64(conf.minFetchSize), 1...100_000_000),
            property("fetch.max.bytes", Int64(conf.maxFetchSize), 0...Int64(Int32.max - 512)),
            property("max.partition.fetch.bytes", Int64(conf.maxFetchSize), 1...1_000_000_000)
        )
    }

    /// The first offset a consumer of the fixture's topic reads: `high` is the partition's high watermark.
    static func start(_ startOffset: StartOffset, high: Int64) -> Int64 {
        switch startOffset {
        case .oldest: 0
        case .newest: high
        case .offset(let value): value
        }
    }

    /// What `consume()` of a partition holding offsets 0..<high ends in from `start`: the message,
    /// ``KafkaError/noData`` once the retry limit runs out at the end of the log, or
    /// `offsetOutOfRange` for a start past it.
    static func read(from start: Int64, high: Int64) -> ExpectedOutcome {
        start < high ? .success : start == high ? .noData : .broker(.offsetOutOfRange)
    }

    // MARK: OffsetCoordinatorConf

    /// `OffsetCoordinatorConf.validate()`, in its order.
    static func validation(_ conf: OffsetCoordinatorConf) -> ExpectedOutcome? {
        first(
            atLeastOne(conf.retryErrLimit, "OffsetCoordinatorConf.retryErrLimit"),
            notNegative(conf.retryErrWait, "OffsetCoordinatorConf.retryErrWait"),
            positive(conf.requestTimeout, "OffsetCoordinatorConf.requestTimeout")
        )
    }

    // MARK: Distributing producers

    /// The partition Go's `NewHashProducer` picks: FNV-1a 32 of the key as an `Int32`, its
    /// magnitude (2^31 for `Int32.min`) modulo the partition count; nil for a count of 0 or less.
    static func hashPartition(_ key: [UInt8], partitions: Int32) -> Int32? {
        guard partitions > 0 else { return nil }
        let hash = key.reduce(UInt32(2_166_136_261)) { ($0 ^ UInt32($1)) &* 16_777_619 }
        return Int32(Int32(bitPattern: hash).magnitude % UInt32(partitions))
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

/// Runs a case's blocking steps on a thread of their own (never on the two-thread cooperative pool).
func blocking(_ body: @escaping @Sendable () -> Void) async {
    _ = try? await onThread(body)
}

// MARK: - Suite

@Suite("NumericRobustness", .ownThreads, .shrinking(false))
struct NumericRobustnessTests {
    // MARK: BrokerConf

    @Test("BrokerConf: every numeric and Duration field, at dial and in the handles made from it", .timeLimit(.minutes(5)))
    func brokerConf() async throws {
        let fixture = try Fixture()
        let knownIssues = KnownIssues()
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

            // The model. A conf that validates and whose socket timeout librdkafka takes dials the
            // live cluster; a dial attempt shorter than 2 s may end before the metadata comes.
            // A dialRetryWait over an hour dials too (librdkafka's reconnect backoff is capped at an hour).
            let dialed = NumericModel.validation(dialConf) ?? NumericModel.socketTimeout(dialConf)
                ?? (dialConf.dialTimeout < .seconds(2)
                    ? .oneOf([.success, .local(LocalErrorCode.timedOut)], why: "dialTimeout \(dialConf.dialTimeout) may end before the metadata arrives")
                    : .success)
            // The handles made from the broker take readTimeout as their socket.timeout.ms (at least
            // 10 ms); below a second a request of theirs may time out on a loaded machine.
            let shortReads = dialConf.readTimeout < .seconds(1)
            let readsWhy = "readTimeout \(dialConf.readTimeout) is socket.timeout.ms \(max(10, NumericModel.milliseconds(dialConf.readTimeout)))"
            let reads = NumericModel.timing(.success, short: shortReads, readsWhy)
            let partitionRead = NumericModel.partition(partition).failure ?? reads
            let kase = NumericCase("dial with \(dialConf), then watermarks of partition \(partition)")
            await blocking {
                var dialled: Broker?
                guard kase.step("dial", dialed, { dialled = try Broker.dial(addresses, conf: dialConf) }),
                    let broker = dialled
                else { return }
                defer { broker.close() }
                // Handles made from the broker take its fields too (producer message timeout,
                // consumer and coordinator socket settings). The topic is known, so
                // leaderRetryLimit refreshes never loop: a missing partition fails after one.
                guard kase.step("produce to partition 0", reads, {
                    var messages = [Message(value: "b")]
                    let offset = try broker.producer().produce(topic, partition: 0, messages: &messages)
                    try require(offset >= 1, "offset \(offset); partition 0 held a message before")
                }) else { return }
                guard kase.step("watermarks of partition 0", reads, {
                    let (low, high) = try broker.watermarks(topic, partition: 0)
                    try require(low == 0 && high >= 2, "watermarks \(low)...\(high); expected low 0, high 2 or more")
                }) else { return }
                // A consumer whose retry limit is 0 reads every message there is, then throws
                // noData at its first empty fetch (5 ms, so the step stays short).
                var consumerConf = ConsumerConf(topic: topic, partition: 0)
                consumerConf.retryLimit = 0
                consumerConf.requestTimeout = .milliseconds(5)
                var made: BrokerConsumer?
                guard kase.step("consumer of partition 0", reads, { made = try broker.consumer(consumerConf) }), let consumer = made else { return }
                defer { consumer.close() }
                kase.step("consume partition 0 to its end", NumericModel.timing(.noData, short: shortReads, readsWhy)) {
                    var next: Int64 = 0
                    do {
                        while true {
                            let offset = try consumer.consume().offset
                            try require(offset == next, "offset \(offset); expected \(next)")
                            next += 1
                        }
                    } catch KafkaError.noData {
                        let (_, high) = try broker.watermarks(topic, partition: 0)
                        try require(next == high, "noData after \(next) of \(high) messages")
                        throw KafkaError.noData
                    }
                }
                guard kase.step("committed offset of group g", reads, {
                    let (offset, metadata) = try broker.offsetCoordinator(OffsetCoordinatorConf(consumerGroup: "g")).offset(topic, partition: 0)
                    try require(offset == -1 && metadata.isEmpty, "(\(offset), \"\(metadata)\"); group g never committed: expected (-1, \"\")")
                }) else { return }
                kase.step("watermarks of partition \(partition)", partitionRead) {
                    _ = try broker.watermarks(topic, partition: partition)
                }
            }
            kase.check(knownIssues)
        }
        knownIssues.record()
        report("BrokerConf")
    }

    // MARK: ProducerConf and produce

    @Test("ProducerConf fields and produce's partition, blocking and async", .timeLimit(.minutes(5)))
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
            // Bounded: should a request fail every attempt, retryLimit attempts would all be made.
            if conf.requestTimeout < .seconds(1) { conf.retryLimit = min(conf.retryLimit, 3) }
            if case .count = conf.requiredAcks { conf.retryLimit = min(conf.retryLimit, 3) }
            let producerConf = conf
            let async = draw.below(2) == 0

            // The model. requestTimeout is the broker-side ack timeout and the embedded broker
            // answers at once, so a short one still succeeds; so does an ack count of 2...1000,
            // which librdkafka's mock does not enforce. The message timeout is at least 1 s.
            let created = NumericModel.validation(producerConf) ?? NumericModel.producerProperties(producerConf) ?? .success
            let produced = NumericModel.partition(partition)
            let acknowledges = producerConf.requiredAcks != .none
            let kase = NumericCase("\(async ? "async" : "blocking") produce to partition \(partition) with \(producerConf)")
            let topic = fixture.topic
            let broker = fixture.broker
            let checkOffset = { @Sendable (offset: Int64) throws in
                try require(acknowledges ? offset >= 0 : offset == -1, "offset \(offset) with requiredAcks \(producerConf.requiredAcks)")
            }
            var made: BrokerProducer?
            guard kase.step("producer", created, { made = try broker.producer(producerConf) }), let producer = made else {
                kase.check()
                return
            }
            if async {
                await kase.asyncStep("produce", produced) {
                    var messages = [Message(key: "k", value: "p")]
                    try checkOffset(try await producer.produce(topic, partition: partition, messages: &messages))
                }
            } else {
                await blocking {
                    kase.step("produce", produced) {
                        var messages = [Message(key: "k", value: "p")]
                        try checkOffset(try producer.produce(topic, partition: partition, messages: &messages))
                    }
                }
            }
            kase.check()
        }
        report("ProducerConf")
    }

    // MARK: ConsumerConf and consume

    @Test("ConsumerConf fields: partition, startOffset, timeouts, retries, fetch sizes", .timeLimit(.minutes(5)))
    func consumerConf() async throws {
        let fixture = try Fixture()
        await propertyCheck(count: 150, input: bitsGenerator) { input in
            var draw = Draw(input.bits)
            let varies = draw.focus(10)
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
            if varies(9) { conf.fetchWait = draw.duration() }
            let consumerConf = conf

            // The model. Partition 0 holds offset 0 only, partition 1 nothing (this test writes none).
            let high: Int64 = conf.partition == 0 ? 1 : 0
            let start = NumericModel.start(conf.startOffset, high: high)
            let created = NumericModel.validation(conf) ?? NumericModel.partition(conf.partition).failure
                ?? NumericModel.consumerProperties(conf) ?? .success
            let read = NumericModel.read(from: start, high: high)
            // Bounded: consume only where it returns promptly: a message, an offset out of range
            // (found by the first fetch), or noData within a short retry budget (the retry waits
            // are virtual) and a short long-poll (the embedded broker holds a fetch that finds
            // nothing for fetchWait, and no fetch is empty before one came back). And short
            // fetches only: one fetch (rd_kafka_consume_batch_queue) waits its whole
            // requestTimeout for a full batch of 1,000 even when a message is there, so a consume
            // with requestTimeout 300 s takes 300 s.
            let shortPoll = (conf.fetchWait ?? .zero) <= .milliseconds(200)
            let emptyBudgetIsShort = (0...2).contains(conf.retryLimit) && conf.requestTimeout <= .milliseconds(200) && shortPoll
            let endsAtOnce = conf.partition == 0 && start != high
            let consumes = created.isSuccess && (endsAtOnce || emptyBudgetIsShort) && conf.requestTimeout <= .milliseconds(200)
            // Consumers with equal settings share a librdkafka handle, kept by the broker; a long
            // requestTimeout (never consumed, see above) or long-poll gets a broker of its own,
            // closed with the case.
            let ownBroker = conf.requestTimeout > .milliseconds(200) || !shortPoll
            let kase = NumericCase("consumer with \(consumerConf) (start \(start), high watermark \(high))")
            await blocking {
                var dialled: Broker? = fixture.broker
                if ownBroker {
                    guard kase.step("dial a broker of its own", .success, { dialled = try Broker.dial(fixture.cluster.addresses, conf: Fixture.quickConf()) })
                    else { return }
                }
                guard let broker = dialled else { return }
                defer { if ownBroker { broker.close() } }
                var made: BrokerConsumer?
                guard kase.step("consumer", created, { made = try broker.consumer(consumerConf) }), let consumer = made else { return }
                defer { consumer.close() }
                if consumes {
                    kase.step("consume", read) {
                        let message = try consumer.consume()
                        try require(message.offset == start, "offset \(message.offset); expected \(start)")
                    }
                }
            }
            kase.check()
        }
        report("ConsumerConf")
    }

    // MARK: OffsetCoordinatorConf, commit and offset

    @Test("OffsetCoordinatorConf fields, commit's partition and offset, offset's partition", .timeLimit(.minutes(5)))
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

            // The model. commit refuses a negative offset before it looks at the partition; the
            // offset read of a partition that exists gets requestTimeout, which below a second may
            // run out on a loaded machine (commit waits for the coordinator without it).
            let created = NumericModel.validation(coordinatorConf) ?? .success
            let committed: ExpectedOutcome = offset < 0 ? .invalidArgument("offset \(offset) is negative") : NumericModel.partition(partition)
            let read = NumericModel.partition(partition).failure
                ?? NumericModel.timing(.success, short: coordinatorConf.requestTimeout < .seconds(1), "requestTimeout \(coordinatorConf.requestTimeout)")
            let kase = NumericCase("coordinator \(coordinatorConf), partition \(partition), offset \(offset)")
            await blocking {
                var made: BrokerOffsetCoordinator?
                guard kase.step("coordinator", created, { made = try fixture.broker.offsetCoordinator(coordinatorConf) }), let coordinator = made else {
                    return
                }
                defer { coordinator.close() }
                let didCommit = kase.step("commit", committed) {
                    try coordinator.commit(fixture.topic, partition: partition, offset: offset, metadata: "m")
                }
                kase.step("offset", read) {
                    let (readOffset, metadata) = try coordinator.offset(fixture.topic, partition: partition)
                    // Cases run one after another: what this one committed is what it reads back.
                    if didCommit { try require(readOffset == offset && metadata == "m", "read (\(readOffset), \"\(metadata)\") after committing (\(offset), \"m\")") }
                }
            }
            kase.check()
        }
        report("OffsetCoordinatorConf")
    }

    // MARK: Broker calls

    @Test("Broker calls: watermarks, offsetEarliest/Latest, partitionCount, createTopic/deleteTopic counts and timeouts", .timeLimit(.minutes(5)))
    func brokerCalls() async throws {
        let fixture = try Fixture()
        let adminConf = {
            var conf = Fixture.quickConf()
            conf.readTimeout = .milliseconds(100)
            return conf
        }()
        let admin = try await onThread { try Broker.dial(fixture.cluster.addresses, conf: adminConf) }
        // Closing `admin` also ends any admin call a case stopped waiting for (see `overAnHour`).
        defer { admin.close() }
        let knownIssues = KnownIssues()
        await propertyCheck(count: 150, input: bitsGenerator) { input in
            var draw = Draw(input.bits)
            let partition = draw.int32()
            let partitions = draw.int32()
            let replication = draw.int32()
            var timeout: Duration? = draw.below(4) == 0 ? nil : draw.duration()
            // Bounded: librdkafka 2.0.2's mock serves no admin API, so a valid CreateTopics or
            // DeleteTopics waits for its whole timeout (nil: the broker's readTimeout, 100 ms on
            // `admin`); keep those short. A timeout over an hour, librdkafka's most, waits an hour:
            // the case waits a second for the call, which must still be waiting then, and leaves it
            // to `admin.close()`.
            let overAnHour = timeout.map { NumericModel.milliseconds($0) > 3_600_000 } ?? false
            if let chosen = timeout, chosen > .milliseconds(100), !overAnHour { timeout = .milliseconds(100) }
            let adminTimeout = timeout
            let which = draw.below(5)

            // The model. Partition 0 holds offset 0, partition 1 nothing. createTopic checks its
            // counts (at least 1), then librdkafka's NewTopic its upper bounds (100,000 partitions,
            // 10,000 replicas); a request that passes gets no answer from the embedded cluster.
            let high: Int64 = partition == 0 ? 1 : 0
            let unanswered: ExpectedOutcome = overAnHour ? .stillWaiting(after: .seconds(1)) : .local(LocalErrorCode.timedOut)
            let expected: ExpectedOutcome = switch which {
            case 0...2: NumericModel.partition(partition)
            case 3:
                partitions < 1 ? .invalidArgument("topic created needs at least 1 partition, not \(partitions)")
                    : replication < 1 ? .invalidArgument("topic created needs a replication factor of at least 1, not \(replication)")
                    : partitions > 100_000 ? .invalidArgument("num_partitions out of expected range")
                    : replication > 10_000 ? .invalidArgument("replication_factor out of expected range")
                    : unanswered
            default: unanswered
            }
            let kase = NumericCase(
                "broker call \(which), timeout \(String(describing: adminTimeout)), partition \(partition), partitions \(partitions), replication \(replication)"
            )
            let name = ["watermarks", "offsetEarliest", "offsetLatest", "createTopic", "deleteTopic"][which]
            if which >= 3, case .stillWaiting = expected {
                let actual = await onOwnThreadOutcome(within: .seconds(1)) {
                    if which == 3 {
                        try admin.createTopic("created", partitions: partitions, replicationFactor: replication, timeout: adminTimeout)
                    } else {
                        try admin.deleteTopic("created", timeout: adminTimeout)
                    }
                }
                kase.record(name, expected, actual)
                kase.check(knownIssues)
                return
            }
            await blocking {
                let broker = which >= 3 ? admin : fixture.broker
                kase.step(name, expected) {
                    switch which {
                    case 0:
                        let (low, top) = try broker.watermarks(fixture.topic, partition: partition)
                        try require(low == 0 && top == high, "watermarks \(low)...\(top); expected 0...\(high)")
                    case 1:
                        let low = try broker.offsetEarliest(fixture.topic, partition: partition)
                        try require(low == 0, "earliest offset \(low); expected 0")
                    case 2:
                        let latest = try broker.offsetLatest(fixture.topic, partition: partition)
                        try require(latest == high, "latest offset \(latest); expected \(high)")
                    case 3:
                        try broker.createTopic("created", partitions: partitions, replicationFactor: replication, timeout: adminTimeout)
                    default: try broker.deleteTopic("created", timeout: adminTimeout)
                    }
                }
            }
            kase.check(knownIssues)
        }
        knownIssues.record()
        report("Broker calls")
    }

    // MARK: Distributing producers

    @Test("HashProducer, RandomProducer, RoundRobinProducer partition counts", .timeLimit(.minutes(5)))
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

            // The model: the partition each of three calls goes to, and so its outcome (the topic
            // has partitions 0 and 1). A count of 0 or less sends every call to partition 0, except
            // for the hash producer, which refuses it.
            let hashed = NumericModel.hashPartition(key, partitions: partitions)
            let refusedCount = ExpectedOutcome.invalidArgument("partition count must be positive, got \(partitions)")
            let calls: [ExpectedOutcome] = (0..<3).map { call in
                switch kind {
                case 0: hashed.map { NumericModel.partition($0) } ?? refusedCount
                case 1:
                    partitions <= NumericModel.partitionCount ? .success
                        : .oneOf([.success, .broker(.unknownTopicOrPartition)], why: "a random one of \(partitions) partitions, of which 0 and 1 exist")
                default: NumericModel.partition(partitions <= 0 ? 0 : Int32(call) % partitions)
                }
            }
            let name = ["HashProducer", "RandomProducer", "RoundRobinProducer"][kind]
            let kase = NumericCase("\(name) over \(partitions) partitions, key \(key)")
            await blocking {
                let distributing: any DistributingProducer = switch kind {
                case 0: HashProducer(producer, partitions: partitions)
                case 1: RandomProducer(producer, partitions: partitions)
                default: RoundRobinProducer(producer, partitions: partitions)
                }
                for (call, expected) in calls.enumerated() {
                    kase.step("distribute call \(call + 1)", expected) {
                        var messages = [Message(key: key, value: Array("d".utf8))]
                        _ = try distributing.distribute(fixture.topic, messages: &messages)
                    }
                }
                if let hashing = distributing as? HashProducer<BrokerProducer> {
                    kase.step("partition(for:)", hashed == nil ? refusedCount : .success) {
                        let chosen = try hashing.partition(for: [Message(key: key, value: Array("x".utf8))])
                        try require(chosen == hashed, "partition \(chosen); Go's FNV-1a rule gives \(hashed.map(String.init) ?? "none")")
                    }
                }
            }
            kase.check()
        }
        report("Distributing producers")
    }

    // MARK: Mx

    @Test("Mx over consumers with extreme retry waits and small retry limits", .timeLimit(.minutes(5)))
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

            // The model: the first conf that fails validation (a negative wait) fails the lot;
            // otherwise each consumer starting at offset 0 hands out partition 0's one message,
            // every consumer leaves at noData, and the Mx then closes itself (an Mx over none is
            // closed by the case).
            let created = consumerConfs.lazy.compactMap { NumericModel.validation($0) }.first ?? .success
            let messages = consumerConfs.filter { $0.startOffset != .newest }.count
            let kase = NumericCase("Mx over \(count) consumers: \(consumerConfs.map { "start \($0.startOffset), retryWait \($0.retryWait), retryErrWait \($0.retryErrWait)" })")
            await blocking {
                var made: [BrokerConsumer] = []
                guard kase.step("consumers", created, { made = try consumerConfs.map { try fixture.broker.consumer($0) } }) else { return }
                let consumers = made
                defer { consumers.forEach { $0.close() } }
                let mx = Mx.merge(consumers)
                defer { mx.close() }
                if consumers.isEmpty { mx.close() }
                kase.step("consume until mxClosed", .success) {
                    var offsets: [Int64] = []
                    while true {
                        do {
                            offsets.append(try mx.consume().offset)
                        } catch KafkaError.mxClosed {
                            break
                        }
                    }
                    try require(offsets == Array(repeating: 0, count: messages), "offsets \(offsets) before mxClosed; expected offset 0 \(messages) time(s)")
                }
            }
            kase.check()
        }
        report("Mx")
    }

    // MARK: MockCluster

    @Test("MockCluster: brokers, createTopic counts, setRTT, failNext delays and the other numeric calls", .timeLimit(.minutes(5)))
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
            // Bounded: a valid broker count starts real brokers (threads and sockets), a valid
            // partition count allocates logs, a valid request count scripts that many requests.
            let brokers = (1...MockCluster.maxBrokers).contains(int) ? min(int, 4) : int
            if which == 1 && (65...MockCluster.maxPartitions).contains(int) { return }
            if which == 9 && (1001...MockCluster.maxScriptedRequests).contains(int) { return }

            // The model. The second cluster's brokers are 1 and 2, and librdkafka's mock reads
            // broker -1 as "every broker" where it applies a setting to brokers (setRTT, setDown).
            // Its refusals come back as invalidArgument with librdkafka's text. It does not check
            // the broker of a coordinator or a preferred follower (a coordinator on a broker that
            // does not exist answers COORDINATOR_NOT_AVAILABLE: a fault one may mean to inject).
            let isBroker = (1...2).contains(int32)
            let settable = isBroker || int32 == -1
            let notAvailable = "Broker: Broker not available"
            let unknownBroker = "Local: Unknown broker"
            let unknownPartition = "Broker: Unknown topic or partition"
            let leaderPartition = int32 == 0 ? 1 : int32
            func partitionOf(_ partition: Int32, _ what: String) -> ExpectedOutcome? {
                partition < 0 ? .invalidArgument("partition \(partition) is negative")
                    : partition >= 2 ? .invalidArgument("cannot set \(what): \(unknownPartition)") : nil
            }
            let expected: ExpectedOutcome = switch which {
            case 0: (1...MockCluster.maxBrokers).contains(brokers) ? .success : .invalidArgument("a mock cluster has 1 to 64 brokers, not \(brokers)")
            case 1:
                !(1...MockCluster.maxPartitions).contains(int) ? .invalidArgument("needs 1 to \(MockCluster.maxPartitions) partitions, not \(int)")
                    : replication != 1 ? .invalidArgument("needs a replication factor of 1 to 1 (the broker count), not \(replication)") : .success
            case 2: settable ? .success : .invalidArgument("cannot set round-trip time: \(notAvailable)")
            case 3: isBroker ? .success : .invalidArgument("cannot queue errors on broker \(int32): \(unknownBroker)")
            case 4: isBroker ? .success : .invalidArgument("cannot read errors of broker \(int32): \(unknownBroker)")
            case 5: partitionOf(int32, "follower watermarks") ?? .success
            case 6:
                partitionOf(leaderPartition, "leader")
                    ?? (other32 == -1 || (1...2).contains(other32) ? .success : .invalidArgument("cannot set leader: \(notAvailable)"))
            case 7, 8: .success
            case 9: (0...MockCluster.maxScriptedRequests).contains(int) ? .success : .invalidArgument("count \(int) is outside 0...\(MockCluster.maxScriptedRequests)")
            case 10: settable ? .success : .invalidArgument("cannot set broker down: \(notAvailable)")
            default: partitionOf(int32, "follower") ?? .success
            }
            let kase = NumericCase(
                "MockCluster call \(which) with \(int), replication \(replication), \(int32), \(other32), \(int64), \(other64), \(duration), api \(api), unused api \(unusedAPI)"
            )
            await blocking {
                kase.step("call \(which)", expected) {
                    switch which {
                    case 0:
                        let extra = try MockCluster(brokers: brokers)
                        defer { extra.close() }
                        try require(extra.brokerCount == brokers && extra.addresses.count == brokers, "\(extra.addresses) for \(brokers) brokers")
                    case 1:
                        let name = "c\(topicNumber.add(1, ordering: .relaxed).newValue)"
                        try fixture.cluster.createTopic(name, partitions: int, replicationFactor: replication)
                        let count = try fixture.broker.metadata().topic(name)?.partitions.count
                        try require(count == int, "metadata shows \(String(describing: count)) partitions of \(name); expected \(int)")
                    case 2:
                        try cluster.setRTT(broker: int32, duration)
                        for broker: Int32 in 1...2 { try? cluster.setRTT(broker: broker, .zero) }
                    case 3:
                        let before = (try? cluster.pendingErrors(for: unusedAPI, on: int32)) ?? 0
                        try cluster.failNext(unusedAPI, on: int32, with: [(error: nil, delay: duration), (error: .notLeaderForPartition, delay: duration)])
                        let after = try cluster.pendingErrors(for: unusedAPI, on: int32)
                        try require(after == before + 2, "\(after) pending answers after queueing 2 to \(before)")
                    case 4: _ = try cluster.pendingErrors(for: api, on: int32)
                    case 5:
                        try cluster.setFollowerWatermarks(topic: fixture.topic, partition: int32, low: int64, high: other64)
                    case 6:
                        // Leaves partition 1 only: partition 0 is what other cases read.
                        try cluster.setLeader(topic: fixture.topic, partition: leaderPartition, broker: other32)
                        try? cluster.setLeader(topic: fixture.topic, partition: 1, broker: 1)
                    case 7:
                        try cluster.setCoordinator(group: "g", broker: int32)
                        try cluster.setCoordinator(group: "g", broker: 1)
                    case 8:
                        try cluster.coordinatorMoves(group: "moving", from: int32)
                    case 9:
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
            kase.check()
        }
        // The cluster still serves after all that.
        let kase = NumericCase("the fault-injection cluster after every case")
        await blocking {
            kase.step("dial and fetch metadata", .success) {
                try cluster.setUp(broker: nil)
                let broker = try Broker.dial(cluster.addresses, conf: Fixture.quickConf())
                defer { broker.close() }
                _ = try broker.metadata()
            }
        }
        kase.check()
        report("MockCluster")
    }

    // MARK: Clocks

    @Test("VirtualClock: sleeps of any length, elapsed and counts", .timeLimit(.minutes(5)))
    func virtualClock() async throws {
        await propertyCheck(count: 200, input: bitsGenerator) { input in
            var draw = Draw(input.bits)
            let clock = VirtualClock()
            // A quarter of the cases sleep the longest durations many times, to sum past Int128.
            let durations = draw.below(4) == 0
                ? Array(repeating: draw.pick(Array(Extremes.durations.suffix(6))), count: 2 + draw.below(30))
                : (0..<(1 + draw.below(30))).map { _ in draw.duration() }

            // The model: every sleep is recorded and returns at once; elapsed is their sum, each
            // addition saturating at the largest or smallest Duration (Int128 attoseconds).
            let elapsed = Duration(attoseconds: durations.reduce(Int128(0)) { total, duration in
                let (sum, overflow) = total.addingReportingOverflow(duration.attoseconds)
                return overflow ? (duration > .zero ? .max : .min) : sum
            })
            let repeats = durations.filter { $0 == durations[0] }.count
            let kase = NumericCase("VirtualClock with \(durations)")
            await kase.asyncStep("sleeps, elapsed, count and reset", .success) {
                for (index, duration) in durations.enumerated() {
                    if index % 2 == 0 { sleepBlocking(clock, duration) } else { try await clock.sleep(for: duration) }
                }
                try require(clock.sleeps == durations, "recorded \(clock.sleeps)")
                try require(clock.elapsed == elapsed, "elapsed \(clock.elapsed); expected \(elapsed)")
                try require(clock.count(of: durations[0]) == repeats, "count \(clock.count(of: durations[0])) of \(durations[0]); expected \(repeats)")
                clock.reset()
                try require(clock.elapsed == .zero && clock.sleeps.isEmpty, "after reset: elapsed \(clock.elapsed), sleeps \(clock.sleeps)")
            }
            kase.check()
        }
        report("VirtualClock")
    }

    @Test("SystemRetryClock: async sleeps of any length are cancellable and never trap", .timeLimit(.minutes(5)))
    func systemRetryClock() async throws {
        await propertyCheck(count: 200, input: bitsGenerator) { input in
            var draw = Draw(input.bits)
            let duration = draw.duration()
            let runsFirst = draw.below(2) == 0

            // The model: a non-positive sleep returns at once, without looking at cancellation; a
            // sleep of a second or more is still sleeping when the cancellation comes and throws
            // CancellationError; a shorter one may end first.
            let model: ExpectedOutcome = duration <= .zero ? .success
                : duration >= .seconds(1) ? .cancelled
                : .oneOf([.success, .cancelled], why: "a sleep of \(duration) may end before the cancellation reaches it")
            let kase = NumericCase("SystemRetryClock.sleep(for: \(duration)), \(runsFirst ? "cancelled after 1 ms" : "cancelled at once")")
            // Bounded: the sleep is cancelled at once; a non-positive or tiny one returns by itself.
            // Half the sleeps run a millisecond before they are cancelled, half are cancelled at once.
            let started = ContinuousClock.now
            let sleeper = Task { try await SystemRetryClock().sleep(for: duration) }
            if runsFirst { try? await Task.sleep(for: .milliseconds(1)) }
            sleeper.cancel()
            // On a loaded machine the "1 ms" can last longer than the sleep (1.9 s seen): a sleep
            // that was over before the cancellation came may end normally.
            let waited = ContinuousClock.now - started
            let slept: ExpectedOutcome = waited >= duration && duration > .zero
                ? .oneOf([.success, .cancelled], why: "the cancellation came \(waited) after a sleep of \(duration) began") : model
            await kase.asyncStep("async sleep, cancelled", slept) { try await sleeper.value }
            // The blocking sleep really blocks, so only what returns at once is tried: huge
            // values cannot be tried without waiting for them.
            if duration <= .microseconds(100) {
                kase.step("blocking sleep", .success) {
                    let start = ContinuousClock.now
                    sleepBlocking(SystemRetryClock(), duration)
                    let took = ContinuousClock.now - start
                    try require(took < .seconds(1), "a blocking sleep of \(duration) took \(took)")
                }
            }
            kase.check()
        }
        report("SystemRetryClock")
    }

    private func report(_ name: String) {
        let tally = caseTally.withLock { $0 }
        print("NumericRobustness \(name) done: \(tally.steps) steps checked so far (\(tally.succeeded) succeeded, \(tally.rejected) ended in the expected error)")
    }
}
