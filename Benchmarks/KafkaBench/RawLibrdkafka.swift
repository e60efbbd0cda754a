import Crdkafka
import Glibc
import Synchronization

/// The same work done through raw librdkafka C calls, for the side-by-side ratios.
enum RawLibrdkafka {
    /// When each message of a row was produced, and how long each took to be reported, by index
    /// (the message's opaque is its index + 1).
    final class LatencyLog: @unchecked Sendable {
        // Safe: used only by the thread running the row; the delivery callbacks run inside its
        // own rd_kafka_poll calls.
        var producedAt: [ContinuousClock.Instant]
        var latencies: [Duration] = []

        init(count: Int) {
            producedAt = Array(repeating: .now, count: count)
            latencies.reserveCapacity(count)
        }
    }

    final class Counters: Sendable {
        let delivered = Atomic<Int>(0)
        let failed = Atomic<Int>(0)
        /// Per-message latencies, for the rows that measure them.
        let latencyLog: LatencyLog?

        init(latencyLog: LatencyLog? = nil) {
            self.latencyLog = latencyLog
        }

        /// Reports received so far, delivered or failed.
        var reported: Int { delivered.load(ordering: .relaxed) + failed.load(ordering: .relaxed) }

        /// Serves `rk`'s reports on this thread until `count` have arrived.
        func wait(for count: Int, _ rk: OpaquePointer, pollMilliseconds: Int32) {
            while reported < count { rd_kafka_poll(rk, pollMilliseconds) }
        }
    }

    /// Runs `body` with a new producer handle of this library's default settings, a topic handle
    /// for `topic` and the handle's report counters; destroys both handles afterwards.
    static func withProducer<R>(
        bootstrap: String, topic: String, latencyLog: LatencyLog? = nil, _ body: (OpaquePointer, OpaquePointer, Counters) -> R
    ) -> R {
        let counters = Counters(latencyLog: latencyLog)
        return withExtendedLifetime(counters) {
            let rk = handle(RD_KAFKA_PRODUCER, producerProperties(bootstrap), opaque: Unmanaged.passUnretained(counters).toOpaque())
            defer { rd_kafka_destroy(rk) }
            guard let rkt = rd_kafka_topic_new(rk, topic, nil) else { fatalError("rd_kafka_topic_new failed") }
            defer { rd_kafka_topic_destroy(rkt) }
            return body(rk, rkt, counters)
        }
    }

    static let deliveryReport: @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?) -> Void = {
        _, message, opaque in
        guard let opaque, let message else { return }
        let counters = Unmanaged<Counters>.fromOpaque(opaque).takeUnretainedValue()
        if let log = counters.latencyLog, let index = message.pointee._private.map({ Int(bitPattern: $0) - 1 }), log.producedAt.indices.contains(index) {
            log.latencies.append(log.producedAt[index].duration(to: .now))
        }
        if message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
            counters.delivered.add(1, ordering: .relaxed)
        } else {
            counters.failed.add(1, ordering: .relaxed)
        }
    }

    static func handle(_ kind: rd_kafka_type_t, _ properties: [(String, String)], opaque: UnsafeMutableRawPointer?) -> OpaquePointer {
        let conf = rd_kafka_conf_new()
        var errorText = [CChar](repeating: 0, count: 512)
        for (key, value) in properties {
            precondition(rd_kafka_conf_set(conf, key, value, &errorText, errorText.count) == RD_KAFKA_CONF_OK, "\(key)")
        }
        if kind == RD_KAFKA_PRODUCER { rd_kafka_conf_set_dr_msg_cb(conf, deliveryReport) }
        rd_kafka_conf_set_opaque(conf, opaque)
        guard let rk = rd_kafka_new(kind, conf, &errorText, errorText.count) else { fatalError("rd_kafka_new failed") }
        return rk
    }

    /// The producer settings this library uses by default, so both sides do the same work.
    static func producerProperties(_ bootstrap: String) -> [(String, String)] {
        [("bootstrap.servers", bootstrap), ("request.required.acks", "-1"), ("linger.ms", "0"),
         ("message.send.max.retries", "0"), ("compression.codec", "none"), ("message.timeout.ms", "10000"),
         ("socket.nagle.disable", "true")]
    }

    /// The service pattern in C: `count` single messages over `partitions` partitions (round robin),
    /// at most `inFlight` unacknowledged at any time (as `inFlight` tasks each awaiting its own
    /// produce keep them), serving reports as they come; returns how many were delivered.
    /// Each message's latency, from its produce call to its delivery report, goes to `latencyLog`.
    static func produceKeepingInFlight(
        bootstrap: String, topic: String, partitions: Int32, count: Int, inFlight: Int, value: [UInt8], latencyLog: LatencyLog
    ) -> Int {
        withProducer(bootstrap: bootstrap, topic: topic, latencyLog: latencyLog) { rk, rkt, counters in
            value.withUnsafeBytes { bytes in
                let payload = UnsafeMutableRawPointer(mutating: bytes.baseAddress)
                for index in 0..<count {
                    while index - counters.reported >= inFlight { rd_kafka_poll(rk, 1) }
                    latencyLog.producedAt[index] = .now
                    let opaque = UnsafeMutableRawPointer(bitPattern: index + 1)
                    while rd_kafka_produce(rkt, Int32(index) % partitions, RD_KAFKA_MSG_F_COPY, payload, bytes.count, nil, 0, opaque) != 0 {
                        rd_kafka_poll(rk, 1)
                    }
                }
            }
            counters.wait(for: count, rk, pollMilliseconds: 1)
            return counters.delivered.load(ordering: .relaxed)
        }
    }

    /// Produces `count` messages of `value` to `topic`/0, then waits for every delivery report.
    static func produceAll(bootstrap: String, topic: String, count: Int, value: [UInt8]) -> Int {
        withProducer(bootstrap: bootstrap, topic: topic) { rk, rkt, counters in
            value.withUnsafeBytes { bytes in
                let payload = UnsafeMutableRawPointer(mutating: bytes.baseAddress)
                for _ in 0..<count {
                    while rd_kafka_produce(rkt, 0, RD_KAFKA_MSG_F_COPY, payload, bytes.count, nil, 0, nil) != 0 {
                        rd_kafka_poll(rk, 10)
                    }
                    rd_kafka_poll(rk, 0)
                }
            }
            counters.wait(for: count, rk, pollMilliseconds: 50)
            return counters.delivered.load(ordering: .relaxed)
        }
    }

    /// Produces `count` messages of `value` to `topic`/0 with `rd_kafka_produce_batch`, 1,000 per call,
    /// then waits for every delivery report: the fastest raw way, and the baseline of the produce rows.
    static func produceBatched(bootstrap: String, topic: String, count: Int, value: [UInt8]) -> Int {
        withProducer(bootstrap: bootstrap, topic: topic) { rk, rkt, counters in
            value.withUnsafeBytes { bytes in
                var records = plainRecords(1000, bytes)
                var sent = 0
                while sent < count {
                    let chunk = min(1000, count - sent)
                    var first = 0
                    while first < chunk {
                        let enqueued = records.withUnsafeMutableBufferPointer { buffer in
                            buffer.baseAddress.map { Int(rd_kafka_produce_batch(rkt, 0, RD_KAFKA_MSG_F_COPY, $0 + first, Int32(chunk - first))) } ?? 0
                        }
                        if enqueued == chunk - first { break }
                        first = (first..<chunk).first { records[$0].err != RD_KAFKA_RESP_ERR_NO_ERROR } ?? chunk
                        for index in first..<chunk { records[index].err = RD_KAFKA_RESP_ERR_NO_ERROR }
                        rd_kafka_poll(rk, 10)
                    }
                    sent += chunk
                    rd_kafka_poll(rk, 0)
                }
            }
            counters.wait(for: count, rk, pollMilliseconds: 50)
            return counters.delivered.load(ordering: .relaxed)
        }
    }

    /// Produces `count` messages of `value` to `topic`/0 in calls of `batchSize`: each call enqueues
    /// its messages with `rd_kafka_produce_batch` and waits for their reports before the next, the
    /// raw C form of a Go-style blocking produce of `batchSize` messages.
    static func produceInSyncBatches(bootstrap: String, topic: String, count: Int, batchSize: Int, value: [UInt8]) -> Int {
        withProducer(bootstrap: bootstrap, topic: topic) { rk, rkt, counters in
            value.withUnsafeBytes { bytes in
                var records = plainRecords(batchSize, bytes)
                var sent = 0
                while sent < count {
                    let chunk = min(batchSize, count - sent)
                    let enqueued = records.withUnsafeMutableBufferPointer { buffer in
                        buffer.baseAddress.map { Int(rd_kafka_produce_batch(rkt, 0, RD_KAFKA_MSG_F_COPY, $0, Int32(chunk))) } ?? 0
                    }
                    precondition(enqueued == chunk, "raw sync batch enqueued \(enqueued) of \(chunk)")
                    sent += chunk
                    counters.wait(for: sent, rk, pollMilliseconds: 1)
                }
            }
            return counters.delivered.load(ordering: .relaxed)
        }
    }

    /// Latencies of `calls` produce-one-then-wait-for-its-report round trips.
    static func produceLatencies(bootstrap: String, topic: String, calls: Int, value: [UInt8]) -> [Duration] {
        withProducer(bootstrap: bootstrap, topic: topic) { rk, rkt, counters in
            let clock = ContinuousClock()
            var latencies: [Duration] = []
            value.withUnsafeBytes { bytes in
                let payload = UnsafeMutableRawPointer(mutating: bytes.baseAddress)
                for call in 0..<calls {
                    let start = clock.now
                    _ = rd_kafka_produce(rkt, 0, RD_KAFKA_MSG_F_COPY, payload, bytes.count, nil, 0, nil)
                    counters.wait(for: call + 1, rk, pollMilliseconds: 1)
                    latencies.append(clock.now - start)
                }
            }
            return latencies
        }
    }

    /// `count` records of partition 0 whose value is `bytes`, for `rd_kafka_produce_batch`.
    private static func plainRecords(_ count: Int, _ bytes: UnsafeRawBufferPointer) -> [rd_kafka_message_t] {
        let record = rd_kafka_message_t(
            err: RD_KAFKA_RESP_ERR_NO_ERROR, rkt: nil, partition: 0, payload: UnsafeMutableRawPointer(mutating: bytes.baseAddress),
            len: bytes.count, key: nil, key_len: 0, offset: 0, _private: nil
        )
        return [rd_kafka_message_t](repeating: record, count: count)
    }

    /// The settings of the raw partition-consumer handles: this library's consumer's fetch settings.
    static func partitionConsumerProperties(_ bootstrap: String) -> [(String, String)] {
        [("bootstrap.servers", bootstrap), ("fetch.wait.max.ms", "50"), ("fetch.max.bytes", "2000000"), ("socket.nagle.disable", "true"),
         ("max.partition.fetch.bytes", "2000000"), ("auto.offset.reset", "error"), ("enable.partition.eof", "false")]
    }

    /// Latencies of `calls` `rd_kafka_consume_queue` calls (each with its `rd_kafka_message_destroy`),
    /// each with its message already fetched: a new handle reading `topic`/0 from offset 0 takes its
    /// first message untimed (that call waits for the fetch, which brings every message of the topic
    /// at once), then the next `calls` are timed; the raw C twin of `readyConsumeLatencies`.
    static func readyConsumeLatencies(bootstrap: String, topic: String, calls: Int) -> [Duration] {
        let rk = handle(RD_KAFKA_CONSUMER, partitionConsumerProperties(bootstrap), opaque: nil)
        let rkt = rd_kafka_topic_new(rk, topic, nil)
        let queue = rd_kafka_queue_new(rk)
        defer {
            rd_kafka_consume_stop(rkt, 0)
            rd_kafka_queue_destroy(queue)
            rd_kafka_topic_destroy(rkt)
            rd_kafka_destroy(rk)
        }
        rd_kafka_consume_start_queue(rkt, 0, 0, queue)
        /// One message of the queue, destroyed; false when none came within `timeout` ms or it was an error.
        func consumeOne(_ timeout: Int32) -> Bool {
            guard let message = rd_kafka_consume_queue(queue, timeout) else { return false }
            defer { rd_kafka_message_destroy(message) }
            return message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR
        }
        precondition(consumeOne(10_000), "raw consume latency: no first message within 10 s")
        let clock = ContinuousClock()
        var latencies: [Duration] = []
        latencies.reserveCapacity(calls)
        for _ in 0..<calls {
            let start = clock.now
            let consumed = consumeOne(1000)
            latencies.append(clock.now - start)
            precondition(consumed, "raw consume latency: a message did not come")
        }
        return latencies
    }

    /// Consumes `perPartition` messages from each of `partitions` partitions, one partition after the
    /// other, each with its own handle started at offset 0 and the fetch settings of this library's
    /// consumer (as the Swift rows do); returns the number of messages and payload bytes read.
    /// With `copiesPayloads`, each payload is copied into a buffer of its own, then freed: the least
    /// a consumer does that keeps a message past `rd_kafka_message_destroy`, as a Swift `Message` does.
    static func consumeAll(bootstrap: String, topic: String, partitions: [Int32], perPartition: Int, copiesPayloads: Bool = false) -> (Int, Int) {
        let buffer = UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>.allocate(capacity: 1000)
        defer { buffer.deallocate() }
        let copies = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: 1000)
        copies.initialize(repeating: nil, count: 1000)
        defer { copies.deallocate() }
        var total = 0
        var bytes = 0
        for partition in partitions {
            let rk = handle(RD_KAFKA_CONSUMER, partitionConsumerProperties(bootstrap), opaque: nil)
            let rkt = rd_kafka_topic_new(rk, topic, nil)
            let queue = rd_kafka_queue_new(rk)
            rd_kafka_consume_start_queue(rkt, partition, 0, queue)
            var read = 0
            while read < perPartition {
                let count = rd_kafka_consume_batch_queue(queue, 50, buffer, 1000)
                for index in 0..<max(0, count) {
                    if let message = buffer[index] {
                        if message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                            read += 1
                            bytes += message.pointee.len
                            if copiesPayloads, let payload = message.pointee.payload, let copy = malloc(message.pointee.len) {
                                memcpy(copy, payload, message.pointee.len)
                                copies[index] = copy
                            }
                        }
                        rd_kafka_message_destroy(message)
                    }
                }
                // The copies outlive their librdkafka messages, as a batch of Swift messages would.
                for index in 0..<max(0, count) where copies[index] != nil {
                    free(copies[index])
                    copies[index] = nil
                }
            }
            rd_kafka_consume_stop(rkt, partition)
            rd_kafka_queue_destroy(queue)
            rd_kafka_topic_destroy(rkt)
            rd_kafka_destroy(rk)
            total += read
        }
        return (total, bytes)
    }
}
