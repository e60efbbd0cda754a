import Foundation
import Kafka
import Synchronization
import Testing
import XCTest

/// Opt-in expectations on a ``MockProducer``, Sarama-style: "expect 3 produce
/// calls to topic T, the second fails with X". Calls beyond the expectations,
/// to another topic, or expectations still unmet at ``ProduceExpectations/verify(sourceLocation:)``
/// are reported as test failures through Swift Testing (`Issue.record`) when a
/// Swift Testing test is running, and through `XCTFail` otherwise.
public final class ProduceExpectations: Sendable {
    /// One expected call: its topic and, optionally, the error it fails with.
    public struct Expected: Sendable {
        /// The topic the call must write to.
        public var topic: String
        /// The error the call throws instead of writing, or `nil` to let it write.
        public var failure: KafkaError?
    }

    private let state = Mutex<(expected: [Expected], used: Int, problems: [String])>(([], 0, []))

    init() {}

    /// Expects `count` more calls to `topic`; those at the zero-based `failing` indexes (counted
    /// within these `count`) throw the given errors and write nothing.
    public func expect(_ count: Int, to topic: String, failing: [Int: KafkaError] = [:]) {
        state.withLock { state in
            for index in 0..<count { state.expected.append(Expected(topic: topic, failure: failing[index])) }
        }
    }

    /// Checks the next call against the expectations; returns the failure to throw, if any.
    func check(topic: String) -> KafkaError? {
        let (failure, problem): (KafkaError?, String?) = state.withLock { state in
            guard state.used < state.expected.count else {
                let problem = "unexpected produce call #\(state.used + 1) to \(topic): only \(state.expected.count) expected"
                state.used += 1
                state.problems.append(problem)
                return (.invalidArgument(problem), problem)
            }
            let expected = state.expected[state.used]
            state.used += 1
            guard expected.topic == topic else {
                let problem = "produce call #\(state.used) went to \(topic), expected \(expected.topic)"
                state.problems.append(problem)
                return (.invalidArgument(problem), problem)
            }
            return (expected.failure, nil)
        }
        if let problem { Self.report(problem, sourceLocation: nil) }
        return failure
    }

    /// Reports every expected call that did not happen. Call at the end of the test.
    public func verify(sourceLocation: SourceLocation = #_sourceLocation) {
        let missing: [Expected] = state.withLock { Array($0.expected.dropFirst($0.used)) }
        guard !missing.isEmpty else { return }
        let topics = missing.map(\.topic).joined(separator: ", ")
        Self.report("\(missing.count) expected produce call(s) never happened (topics: \(topics))", sourceLocation: sourceLocation)
    }

    /// Every problem seen so far, for tests of tests.
    public var problems: [String] { state.withLock { $0.problems } }

    private static func report(_ message: String, sourceLocation: SourceLocation?) {
        if Test.current != nil {
            if let sourceLocation {
                Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
            } else {
                Issue.record(Comment(rawValue: message))
            }
        } else {
            XCTFail(message)
        }
    }
}
