import Crdkafka
import Kafka

// The group-consumer rows: a GroupConsumer and a raw rd_kafka_consumer_poll loop, each a new
// member of a new group subscribed to the consume topic, reading until every partition's last
// message came. Joining takes about the session timeout with librdkafka 2.0.2's mock
// coordinator, so both clocks start at the first message and stop at the last.

/// The session settings of the group rows: short, so a join costs about 4 s, not 45 (the tests'
/// settings; much shorter and the embedded coordinator evicts members before assigning them).
enum GroupBenchSettings {
    static let sessionTimeoutMilliseconds = 4000
    static let heartbeatMilliseconds = 300
}

/// Starts the clock (and the CPU time and allocation counts) at the first message, stops them at the last.
final class FirstMessageStopwatch {
    private(set) var start: ContinuousClock.Instant?
    private(set) var end: ContinuousClock.Instant?
    private var allocationsAtStart: UInt64 = 0
    private var allocationsAtEnd: UInt64 = 0
    private var cpuAtStart: Duration = .zero
    private var cpuAtEnd: Duration = .zero

    @inline(__always) func started() {
        allocationsAtStart = allocationsSoFar()
        cpuAtStart = processCPUTime()
        start = ContinuousClock.now
    }

    @inline(__always) func stopped() {
        end = ContinuousClock.now
        cpuAtEnd = processCPUTime()
        allocationsAtEnd = allocationsSoFar()
    }

    var elapsed: Duration { (end ?? .now) - (start ?? .now) }
    var cpu: Duration { cpuAtEnd - cpuAtStart }
    var allocations: UInt64 { allocationsAtEnd &- allocationsAtStart }
}

/// Runs `body`, which calls the stopwatch's `started()` at its first message and `stopped()`
/// at its last, and returns how many messages it read; the row counts those after the first
/// (the clock ran for them). Nothing runs when `only` is set and not part of `name`.
func measureFromFirstMessage(
    _ name: String, only: String?, size: Int, baseline: String? = nil, _ body: (FirstMessageStopwatch) throws -> Int
) rethrows -> Row? {
    if let only, !name.contains(only) { return nil }
    let stopwatch = FirstMessageStopwatch()
    let messages = try body(stopwatch) - 1
    precondition(stopwatch.start != nil && stopwatch.end != nil, "\(name): the stopwatch was not started and stopped")
    return Row(name: name, messages: messages, bytes: messages * size, elapsed: stopwatch.elapsed, cpu: stopwatch.cpu,
               allocations: stopwatch.allocations, baseline: baseline)
}

extension RawLibrdkafka {
    /// Joins `group` as a new member subscribed to `topic` (range assignment, offsets from the
    /// earliest, automatic commits every 5 s, `queued.min.messages` 1,000,000: the settings a
    /// GroupConsumer with the bench's session settings gives librdkafka) and polls with `rd_kafka_consumer_poll` until the last message
    /// (offset `perPartition - 1`) of each of `partitions` partitions came; then leaves the group.
    /// Returns the messages read.
    static func groupConsumeAll(bootstrap: String, group: String, topic: String, partitions: Int, perPartition: Int, stopwatch: FirstMessageStopwatch) -> Int {
        let rk = handle(RD_KAFKA_CONSUMER, [
            ("bootstrap.servers", bootstrap), ("client.id", "kafka-bench-raw"), ("socket.nagle.disable", "true"),
            ("topic.metadata.refresh.interval.ms", "10000"),
            ("group.id", group), ("partition.assignment.strategy", "range"),
            ("session.timeout.ms", "\(GroupBenchSettings.sessionTimeoutMilliseconds)"),
            ("heartbeat.interval.ms", "\(GroupBenchSettings.heartbeatMilliseconds)"),
            ("auto.offset.reset", "earliest"), ("fetch.wait.max.ms", "50"), ("enable.partition.eof", "false"),
            ("enable.auto.commit", "true"), ("auto.commit.interval.ms", "5000"),
            // As GroupConsumer sets it: with librdkafka's 100,000 the shared queue's prefetch pauses
            // for up to 1 s each time it fills, and the raw row would measure those pauses.
            ("queued.min.messages", "1000000"),
        ], opaque: nil)
        rd_kafka_poll_set_consumer(rk)
        let list = rd_kafka_topic_partition_list_new(1)
        rd_kafka_topic_partition_list_add(list, topic, RD_KAFKA_PARTITION_UA)
        precondition(rd_kafka_subscribe(rk, list) == RD_KAFKA_RESP_ERR_NO_ERROR, "rd_kafka_subscribe failed")
        rd_kafka_topic_partition_list_destroy(list)
        var read = 0
        var finished = 0
        let last = Int64(perPartition - 1)
        while finished < partitions {
            guard let message = rd_kafka_consumer_poll(rk, 50) else { continue }
            if message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                if read == 0 { stopwatch.started() }
                read += 1
                if message.pointee.offset == last { finished += 1 }
            }
            rd_kafka_message_destroy(message)
        }
        stopwatch.stopped()
        rd_kafka_consumer_close(rk)
        rd_kafka_destroy(rk)
        return read
    }
}

/// The Swift side: a GroupConsumer with the same settings, read with `consume()` until the last
/// message of every partition came; then closed (which leaves the group). Returns the messages read.
func swiftGroupConsumeAll(broker: Broker, group: String, topic: String, partitions: Int, perPartition: Int, size: Int, stopwatch: FirstMessageStopwatch) throws -> Int {
    let consumer = try broker.groupConsumer(benchGroupConf(group, topic))
    defer { consumer.close() }
    var read = 0
    var finished = 0
    let last = Int64(perPartition - 1)
    while finished < partitions {
        let message = try consumer.consume()
        if read == 0 { stopwatch.started() }
        read += message.value?.count == size ? 1 : 0
        if message.offset == last { finished += 1 }
    }
    stopwatch.stopped()
    return read
}

/// The group conf of both Swift group rows: the raw row's session settings.
func benchGroupConf(_ group: String, _ topic: String) -> GroupConsumerConf {
    var conf = GroupConsumerConf(group: group, topics: [topic])
    conf.sessionTimeout = .milliseconds(GroupBenchSettings.sessionTimeoutMilliseconds)
    conf.heartbeatInterval = .milliseconds(GroupBenchSettings.heartbeatMilliseconds)
    return conf
}

/// The borrowing Swift side: a GroupConsumer read with `withBorrowedBatch` (views, no copies)
/// until the last message of every partition came; then closed. Returns the messages read.
func swiftGroupBorrowAll(broker: Broker, group: String, topic: String, partitions: Int, perPartition: Int, size: Int, stopwatch: FirstMessageStopwatch) throws -> Int {
    let consumer = try broker.groupConsumer(benchGroupConf(group, topic))
    defer { consumer.close() }
    var read = 0
    var finished = 0
    let last = Int64(perPartition - 1)
    while finished < partitions {
        try consumer.withBorrowedBatch { batch in
            if read == 0 { stopwatch.started() }
            for message in batch {
                read += message.value?.count == size ? 1 : 0
                if message.offset == last { finished += 1 }
            }
        }
    }
    stopwatch.stopped()
    return read
}
