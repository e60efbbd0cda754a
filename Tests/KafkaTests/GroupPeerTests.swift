import Foundation
import Kafka
import KafkaTest
import Synchronization
import Testing
import KafkaTestSupport

/// Whether Debian's /usr/bin/python3 has kafka-python (python3-kafka).
private let hasKafkaPython: Bool = (try? runProgram("/usr/bin/python3", ["-c", "import kafka"])) != nil

/// A kafka-python group member in the background: its standard output is collected line by
/// line while it runs, its standard error kept for diagnostics.
private final class PythonMember: Sendable {
    private let lines = Mutex<[String]>([])
    private let errors = Mutex<String>("")
    private let pid: Int32

    init(script: String, arguments: [String]) throws {
        let output = Pipe()
        let errorOutput = Pipe()
        let program = try spawn(
            URL(fileURLWithPath: "/usr/bin/python3"), ["-u", "-c", script] + arguments,
            standardOutput: output.fileHandleForWriting, standardError: errorOutput.fileHandleForWriting
        )
        // The program has its own copies; closing ours lets the readers see the end of its output.
        try output.fileHandleForWriting.close()
        try errorOutput.fileHandleForWriting.close()
        pid = program.processIdentifier
        let outputHandle = output.fileHandleForReading
        let errorHandle = errorOutput.fileHandleForReading
        Thread.detachNewThread { [self] in
            var pending = Data()
            while true {
                let chunk = outputHandle.availableData
                if chunk.isEmpty { break }  // end of file: the process is gone
                pending.append(chunk)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending.removeSubrange(pending.startIndex...newline)
                    lines.withLock { $0.append(line) }
                }
            }
        }
        Thread.detachNewThread { [self] in
            while true {
                let chunk = errorHandle.availableData
                if chunk.isEmpty { break }
                errors.withLock { $0 += String(decoding: chunk, as: UTF8.self) }
            }
        }
    }

    /// What it printed so far, one entry a line.
    var output: [String] { lines.withLock { $0 } }
    /// Its standard error so far.
    var errorText: String { errors.withLock { $0 } }
    /// The values of the messages it printed.
    var values: [String] { output.compactMap { $0.hasPrefix("msg ") ? String($0.dropFirst(4)) : nil } }

    /// SIGTERM (the script closes its consumer, leaving the group), then SIGKILL after `grace`;
    /// reaps the process. Bounded: at most `grace` plus one poll.
    func stop(grace: Duration = .seconds(10)) {
        var status: Int32 = 0
        // 0: our child, still running. Anything else: it exited (reaped here or by Foundation).
        guard waitpid(pid, &status, WNOHANG) == 0 else { return }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while ContinuousClock.now < deadline {
            if waitpid(pid, &status, WNOHANG) != 0 { return }
            usleep(50_000)
        }
        if waitpid(pid, &status, WNOHANG) == 0 {
            kill(pid, SIGKILL)
            waitpid(pid, &status, 0)
        }
    }
}

/// The assignments a member's onAssigned hook saw, in order.
private final class Assignments: Sendable {
    let list = Mutex<[[TopicPartition]]>([])
}

/// A kafka-python `KafkaConsumer` and a Swift ``GroupConsumer`` in one consumer group on the
/// embedded cluster.
///
/// Measured limits of librdkafka 2.0.2's mock coordinator (rdkafka_mock_cgrp.c) with a
/// kafka-python (2.0.2) member, which is why the test is built as it is:
/// - the mock finishes a sync as soon as the leader's SyncGroup has set every member's
///   assignment and answers a follower's SyncGroup that arrives after that with
///   `INVALID_REQUEST [42]` (the group is already Up). With librdkafka leading, kafka-python's
///   late SyncGroup was rejected in 5 of 18 runs; with kafka-python leading, librdkafka's was
///   rejected in 2 of 5 runs on a loaded machine (it rejoins; the cascade of rebalances that
///   follows re-reads messages whose commit the mock refused, and may evict kafka-python). So
///   kafka-python joins first and, as leader, waits ``leaderDelay`` before its SyncGroup;
/// - members whose first assignment protocol differs (librdkafka's `cooperative-sticky` beside
///   kafka-python's `range`) make the mock abort the whole process (it asserts every member's
///   first protocol is the leader's), so both use `range`;
/// - the group's session timeout is the last joiner's, and a join waits 3 s (first member) or
///   that timeout less 1 s. Both members use 10 s: with 4 s, kafka-python's heartbeats (every
///   500 ms) missed it on a loaded machine and the mock evicted it mid-test;
/// - commits during a rebalance are refused (`REBALANCE_IN_PROGRESS`).
/// When the SyncGroup rejection or a rebalance that never completes shows anyway, the
/// expectations are recorded as a known issue naming it.
@Suite("GroupPeer", .ownThreads, .timeLimit(.minutes(3)), .enabled(if: hasKafkaPython, "needs /usr/bin/python3 with kafka-python"))
struct GroupPeerTests {
    /// Seconds kafka-python, as leader, waits before its SyncGroup: the mock completes a sync
    /// when the leader's SyncGroup has set every assignment, and rejects a follower's SyncGroup
    /// that arrives after that (`InvalidRequestError [42]`), so librdkafka's must come first.
    /// Measured under load (2 busy cores): without the wait 2 of 5 runs hit it, with it 0 of 5.
    static let leaderDelay = "0.5"

    /// argv: bootstrap, topic, group, partition count, messages to read before holding, leader delay (s).
    /// Prints `assigned …`/`revoked …` from its rebalance listener, `msg <value>` per message
    /// (then commits it synchronously), and `holding` once it read its share while alone in
    /// the group: it then pauses every partition until a rebalance gives it fewer. Stops on
    /// SIGTERM, after 15 s without a message once it read after the split, or after 120 s; a
    /// poll that fails (the mock's `InvalidRequestError`) is printed as `poll-failed …` and the
    /// next poll rejoins.
    static let memberScript = """
        import signal, sys, time
        from kafka import KafkaConsumer, ConsumerRebalanceListener
        from kafka.coordinator.assignors.range import RangePartitionAssignor
        bootstrap, topic, group, total, hold_after = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        leader_delay = float(sys.argv[6])
        class Range(RangePartitionAssignor):  # 'range', as the leader computes it, then a pause
            @classmethod
            def assign(cls, cluster, members):
                time.sleep(leader_delay)  # the followers' SyncGroup reaches the mock first
                return super(Range, cls).assign(cluster, members)
        c = KafkaConsumer(bootstrap_servers=bootstrap.split(','), group_id=group, api_version=(2, 0, 0),
                          partition_assignment_strategy=[Range],
                          session_timeout_ms=10000, heartbeat_interval_ms=500,
                          auto_offset_reset='earliest', enable_auto_commit=False, max_poll_records=1)
        state = {'alone': False, 'holding': False, 'read': 0, 'split_read': 0}
        def names(partitions):
            return ' '.join(str(p) for p in sorted(p.partition for p in partitions))
        class Listener(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked):
                print('revoked', names(revoked), flush=True)
            def on_partitions_assigned(self, assigned):
                print('assigned', names(assigned), flush=True)
                state['alone'] = len(assigned) == total
                state['holding'] = False
        c.subscribe([topic], listener=Listener())
        started = time.monotonic()
        last = None
        while not stop and time.monotonic() - started < 120:
            if state['split_read'] and time.monotonic() - last > 15:
                break
            if state['alone'] and not state['holding'] and state['read'] >= hold_after:
                c.pause(*c.assignment())
                state['holding'] = True
                print('holding', flush=True)
            try:
                batches = c.poll(timeout_ms=100)
            except Exception as e:  # e.g. the mock's InvalidRequestError for a SyncGroup: rejoin on the next poll
                print('poll-failed', type(e).__name__, flush=True)
                continue
            for records in batches.values():
                for m in records:
                    print('msg', m.value.decode(), flush=True)
                    state['read'] += 1
                    if not state['alone']:
                        state['split_read'] += 1
                    last = time.monotonic()
                    try:
                        c.commit()
                    except Exception as e:
                        print('commit-failed', type(e).__name__, e, flush=True)
        c.close()
        print('closed', flush=True)
        """

    @Test("a kafka-python consumer (leader) and a Swift group consumer split four partitions (range) and together read every message once")
    func kafkaPythonAndSwiftSplit() async throws {
        let topic = "peers"
        let partitions = 4
        let perPartition = 10
        let total = partitions * perPartition
        let cluster = try MockCluster(brokers: 1, topics: [topic: partitions])
        defer { cluster.close() }
        let broker = try await Broker.dial(cluster.addresses)
        defer { broker.close() }
        let producer = try broker.producer()
        for partition in 0..<partitions {
            try await producer.produce(topic, partition: Int32(partition), messages: (0..<perPartition).map { Message(value: "p\(partition)-\($0)") })
        }
        let expected = Set((0..<partitions).flatMap { partition in (0..<perPartition).map { "p\(partition)-\($0)" } })
        let group = "peer-group-\(UUID().uuidString.prefix(8))"

        // kafka-python joins first, alone: it leads, gets all four partitions, reads and commits
        // a few messages, then holds (pauses) until the Swift member's join splits the group.
        let python = try PythonMember(script: Self.memberScript, arguments: [
            cluster.addresses.joined(separator: ","), topic, group, "\(partitions)", "6", Self.leaderDelay,
        ])
        defer { python.stop() }
        let joinDeadline = ContinuousClock.now + .seconds(45)
        while !python.output.contains("holding") {
            guard ContinuousClock.now < joinDeadline else {
                Issue.record("kafka-python did not join and read within 45 s: \(python.output) \(python.errorText.suffix(2000))")
                return
            }
            try await Task.sleep(for: .milliseconds(50))  // polling another process's progress
        }

        // The Swift member: range like kafka-python, and a session long enough that a loaded
        // machine does not evict kafka-python (the group takes the last joiner's).
        var conf = GroupConsumerConf(group: group, topics: [topic])
        conf.assignmentStrategy = .range
        conf.sessionTimeout = .milliseconds(10_000)
        conf.heartbeatInterval = .milliseconds(300)
        conf.commitPolicy = .manual
        conf.retryLimit = 20  // about 2 s without messages: noData, then the loop checks the deadline
        let log = CollectingLogger()
        conf.logger = log
        conf.properties["debug"] = "cgrp"  // the join and sync steps, for the diagnostics below
        let assignments = Assignments()
        conf.rebalance.onAssigned = { rebalance in assignments.list.withLock { $0.append(rebalance.partitions) } }
        let swift = try await broker.groupConsumer(conf)
        var swiftValues: [String] = []
        var commitErrors: [String] = []
        let readDeadline = ContinuousClock.now + .seconds(90)
        while Set(swiftValues + python.values).count < total, ContinuousClock.now < readDeadline {
            let message: Message
            do {
                message = try await swift.consume()
            } catch KafkaError.noData {
                continue
            }
            swiftValues.append(String(decoding: message.value ?? [], as: UTF8.self))
            do { try await swift.commit(message) } catch { commitErrors.append("\(error)") }
        }
        // Snapshots before either member leaves (a leave rebalances the other onto all four).
        let swiftAssigned = try swift.assignment()
        let pythonValues = python.values
        let pythonOutput = python.output
        swift.close()
        python.stop()
        let pythonErrors = python.errorText
        let all = swiftValues + pythonValues
        let syncLines = log.collected.map(\.message).filter { $0.contains("SyncGroup") || $0.contains("JoinGroup") || $0.contains("nvalid") }
        let diagnostics = """
            swift read \(swiftValues.count) \(swiftValues), assignments \(assignments.list.withLock { $0 }), commit errors \(commitErrors)
            kafka-python printed \(pythonOutput)
            kafka-python stderr (tail): \(pythonErrors.suffix(3000))
            swift group log (join/sync): \(syncLines.suffix(40).joined(separator: "\n"))
            """
        // kafka-python's assignment at the end of the read, and what it read after it held.
        let pythonAssigned = pythonOutput.last { $0.hasPrefix("assigned") }
        let pythonAfterSplit = pythonOutput.drop { $0 != "holding" }.filter { $0.hasPrefix("msg ") }
        // The limits of 2.0.2's mock coordinator, named when they show.
        let limit: String? =
            if pythonOutput.contains("poll-failed InvalidRequestError") || pythonErrors.contains("InvalidRequestError")
                || syncLines.contains(where: { $0.contains("SyncGroup") && $0.contains("Invalid request") }) {
                "librdkafka 2.0.2's mock coordinator rejected a follower's SyncGroup that came after the leader's (InvalidRequestError [42])"
            } else if assignments.list.withLock({ $0.isEmpty }) || pythonAssigned == nil || pythonAssigned == "assigned 0 1 2 3" {
                "librdkafka 2.0.2's mock coordinator never completed the rebalance that adds the Swift member"
            } else {
                nil
            }
        withKnownIssue(limit.map { Comment(rawValue: $0) }, isIntermittent: true) {
            #expect(Set(all) == expected, "read \(Set(all).count) distinct of \(total)\n\(diagnostics)")
            #expect(all.count == Set(all).count, "messages read twice: \(Dictionary(grouping: all) { $0 }.filter { $0.value.count > 1 }.keys.sorted())\n\(diagnostics)")
            // The split: each member read and owns two partitions, disjoint.
            #expect(!swiftValues.isEmpty && !pythonAfterSplit.isEmpty, "\(diagnostics)")
            // The Swift member's first assignment is the split. Its assignment now may be all four:
            // kafka-python leaves once it read its share and waited 15 s, and that rebalances.
            let splitAssigned = assignments.list.withLock { $0.first } ?? swiftAssigned
            #expect(splitAssigned.count == 2, "\(splitAssigned)\n\(diagnostics)")
            let swiftPartitions = Set(splitAssigned.map { String($0.partition) })
            let pythonPartitions = Set((pythonAssigned ?? "").split(separator: " ").dropFirst().map(String.init))
            #expect(swiftPartitions.isDisjoint(with: pythonPartitions) && swiftPartitions.union(pythonPartitions).count == partitions,
                    "swift \(swiftPartitions.sorted()), kafka-python \(pythonPartitions.sorted())\n\(diagnostics)")
            // What Swift read after the split lies in its partitions only.
            #expect(swiftValues.allSatisfy { value in swiftPartitions.contains { value.hasPrefix("p\($0)-") } }, "\(diagnostics)")
        } when: {
            limit != nil
        }
        // The mock may go on refusing a member's commits after the rebalance that added it
        // completed (seen with 10 s sessions on a loaded machine); a real Kafka accepts commits of
        // the current generation. Any other commit error is a failure.
        // The refusals seen: "rebalance in progress", "illegal generation" and "unknown member",
        // each after the split had completed and every message was read once.
        let rebalanceRefusals = ["rebalanceInProgress", "illegalGeneration", "unknownConsumerID"]
        let refusedAsRebalancing = !commitErrors.isEmpty && commitErrors.allSatisfy { error in rebalanceRefusals.contains { error.contains($0) } }
        withKnownIssue("librdkafka 2.0.2's mock coordinator refused commits of the current generation", isIntermittent: true) {
            #expect(commitErrors.isEmpty, "\(diagnostics)")
        } when: {
            limit != nil || refusedAsRebalancing
        }
    }
}
