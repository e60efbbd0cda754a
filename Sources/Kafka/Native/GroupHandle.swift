import Crdkafka
import KafkaProto

/// librdkafka's rebalance callback, run on the thread serving the group's queue (a fetch, or
/// the final revoke in `rd_kafka_consumer_close`). Without a handler it applies the change.
let rebalanceCallback: @convention(c) (
    OpaquePointer?, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, UnsafeMutableRawPointer?
) -> Void = { rk, code, list, _ in
    guard let rk, let list else { return }
    if let handler = HandleContext.from(rk)?.rebalance.withLock({ $0 }) {
        handler(rk, code, list)
    } else {
        GroupHandle.apply(rk, code, list)
    }
}

/// Which change a rebalance callback announces.
enum RebalanceKind {
    case assigned, revoked, lost
}

/// The C side of a ``GroupConsumer``: its librdkafka handle (with `group.id`, subscribed),
/// the consumer queue messages and rebalances arrive on, and the group calls.
final class GroupHandle: @unchecked Sendable {
    // Safe: `handle` guards the `rd_kafka_t`; the queue is used only by fetches counted as
    // handle users and freed by the handle's destroy hook after every user left; `fetched`,
    // `pending`, `borrowed` and `topicNames` are used only by the fetch holding the consumer's
    // fetch lock, and by the destroy hook after every fetch left.
    let handle: NativeHandle
    private let queue: OpaquePointer
    let signal: QueueSignal
    /// Drops what a rebalance or librdkafka's pause race made wrong to hand out; the rebalance callback reports to it.
    let filter = GroupDeliveryFilter()
    /// What this member handed out and stored, for transactions (``GroupConsumer/handedOutOffsets()``).
    let handedOut = HandedOutOffsets()
    private let fetched: UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>
    /// Messages of the last fetch a borrowing read left for the next read (they belong to
    /// another topic than the batch it handed over): `fetched[pending]`.
    private var pending = 0..<0
    /// Views of one borrowed batch.
    private let borrowed = UnsafeMutablePointer<BorrowedMessage>.allocate(capacity: GroupHandle.batchCapacity)
    /// Topic names by topic handle, so a message's topic costs no allocation.
    private var topicNames: [OpaquePointer: String] = [:]
    static let batchCapacity = 1000

    /// Creates the handle and subscribes to `topics`.
    /// - Parameters:
    ///   - finalCommit: whether closing commits what was handed out (the automatic policy).
    ///   - closeTimeout: how long closing may take to commit and leave the group (``GroupLeave``).
    init(
        properties: [(String, String)], topics: [String], group: String, logger: any KafkaLogger, finalCommit: Bool,
        closeTimeout: Duration, tokenProvider: (@Sendable () throws -> SASLConfiguration.OAuthBearerToken)?
    ) throws {
        let handle = try NativeHandle(
            kind: .groupConsumer, properties: properties, logger: logger, name: "group", polled: false, tokenProvider: tokenProvider,
            teardownLimit: closeTimeout
        )
        let queue: OpaquePointer = try handle.withHandle { rk in
            // Errors, logs and statistics go to the consumer queue, served by fetches.
            rd_kafka_poll_set_consumer(rk)
            guard let list = rd_kafka_topic_partition_list_new(Int32(clamping: topics.count)) else {
                throw KafkaError.local(code: -1, message: "cannot allocate a topic list")
            }
            defer { rd_kafka_topic_partition_list_destroy(list) }
            for topic in topics { rd_kafka_topic_partition_list_add(list, topic, RD_KAFKA_PARTITION_UA) }
            let code = rd_kafka_subscribe(rk, list)
            guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code, detail: "cannot subscribe to \(topics)") }
            guard let queue = rd_kafka_queue_get_consumer(rk) else { throw KafkaError.local(code: -1, message: "no consumer queue") }
            return queue
        }
        self.handle = handle
        self.queue = queue
        self.fetched = .allocate(capacity: Self.batchCapacity)
        self.signal = QueueSignal(queue: queue)
        handle.onClose { [signal] in
            rd_kafka_queue_yield(queue)
            signal.close()
        }
        // After every user left: commit per the policy and leave the group (the final revoke runs
        // the hooks; `rd_kafka_consumer_close` serves the queue itself), then free the queue. The
        // handle's teardown limit (the close timeout) bounds how long `close()` waits for this.
        handle.beforeDestroy { [self, signal] rk in
            destroyPending()
            GroupLeave.run(rk, commit: finalCommit, group: group, logger: logger)
            signal.detach()
            rd_kafka_queue_destroy(queue)
        }
    }

    deinit {
        handle.close()
        fetched.deallocate()
        borrowed.deallocate()
    }

    /// Frees the messages a borrowing read left: after every user left, or by the read holding
    /// the consumer's fetch lock (a rewind).
    func destroyPending() {
        for index in pending { rd_kafka_message_destroy(fetched[index]) }
        pending = 0..<0
    }

    /// The messages to read next: those a borrowing read left, or else what the queue holds
    /// (waiting up to `timeout` for the first; see ``QueueDrain``), less those ``filter`` drops;
    /// nil for a queue error. Throws closed (freeing what came).
    private func nextMessages(_ timeout: Duration) throws -> Range<Int>? {
        if !pending.isEmpty {
            defer { pending = 0..<0 }
            return pending
        }
        let mark = filter.beginFetch()
        var staleBefore = 0
        let count = QueueDrain.take(from: queue, timeout: timeout, into: fetched, capacity: Self.batchCapacity) { taken, tookOne in
            guard filter.rebalanced(since: mark) else { return false }
            staleBefore = tookOne ? taken - 1 : taken
            return true
        }
        if handle.isClosed {
            for index in 0..<Swift.max(0, count) { rd_kafka_message_destroy(fetched[index]) }
            throw KafkaError.closed
        }
        guard count >= 0 else { return nil }
        filter.filter(fetched, count: count, since: mark, staleBefore: staleBefore, topicName: topicName)
        return 0..<count
    }

    /// Whether the queue holds something (messages, errors, rebalances).
    func hasMessages() -> Bool {
        (try? handle.withHandle { _ in rd_kafka_queue_length(queue) > 0 }) ?? true
    }

    /// One fetch: waits up to `timeout` and appends what came to `buffer` (empty), noting each
    /// message's partition and offset in `positions`.
    func fetch(timeout: Duration, into buffer: FetchBuffer, positions: inout [TopicPartitionOffset], readsHeaders: Bool) throws
        -> PartitionQueue.FetchOutcome
    {
        try handle.withHandle { rk in
            guard let range = try nextMessages(timeout) else { return .failure(KafkaError(rd_kafka_last_error())) }
            guard !range.isEmpty else { return .empty }
            buffer.reset()
            positions.removeAll(keepingCapacity: true)
            var firstError: KafkaError?
            // Messages come in runs per partition: the watermark is looked up once per run
            // (per message it cost a lock and an allocation inside librdkafka, measured 5x slower).
            var runTopic: OpaquePointer?
            var runPartition: Int32 = -1
            var high: Int64 = -1
            for index in range {
                guard let pointer = fetched[index] else { continue }
                defer { rd_kafka_message_destroy(pointer) }
                let raw = pointer.pointee
                if raw.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                    if firstError == nil { firstError = Self.fetchError(pointer) }
                    continue
                }
                let topic = topicName(raw.rkt)
                if raw.rkt != runTopic || raw.partition != runPartition {
                    runTopic = raw.rkt
                    runPartition = raw.partition
                    var low: Int64 = -1
                    _ = rd_kafka_get_watermark_offsets(rk, topic, raw.partition, &low, &high)
                }
                buffer.append(pointer, topic: topic, readsHeaders: readsHeaders, tipOffset: high)
                positions.append(TopicPartitionOffset(topic: topic, partition: raw.partition, offset: raw.offset))
            }
            if buffer.isEmpty { return firstError.map { .failure($0) } ?? .empty }
            return .messages(deferred: firstError)
        }
    }

    /// One borrowing fetch: runs `body` over views of the next messages of one topic (a fetch
    /// holding several topics is handed over one topic's run at a time; the rest waits for the
    /// next read), then frees them and stores their offsets for commit (they count as handed out,
    /// also when `body` throws). No copy and no allocation per message.
    func fetchBorrowed<R>(timeout: Duration, _ body: (BorrowedBatch) throws -> R) throws -> PartitionQueue.BorrowedOutcome<R> {
        try handle.withHandle { _ in
            guard let range = try nextMessages(timeout) else { return .failure(KafkaError(rd_kafka_last_error())) }
            guard !range.isEmpty else { return .empty }
            var firstError: KafkaError?
            var runTopic: OpaquePointer?
            var views = 0
            var end = range.upperBound
            // The next offset to read per partition of the run, in order of appearance (a few partitions).
            var nextOffsets: [(partition: Int32, offset: Int64)] = []
            for index in range {
                guard let pointer = fetched[index] else { continue }
                let raw = pointer.pointee
                if raw.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                    if firstError == nil { firstError = Self.fetchError(pointer) }
                    rd_kafka_message_destroy(pointer)
                    fetched[index] = nil
                    continue
                }
                if views > 0 && raw.rkt != runTopic {
                    end = index
                    break
                }
                runTopic = raw.rkt
                (borrowed + views).initialize(to: BorrowedMessage(viewing: pointer))
                views += 1
                if let last = nextOffsets.indices.last, nextOffsets[last].partition == raw.partition {
                    nextOffsets[last].offset = raw.offset + 1
                } else if let known = nextOffsets.firstIndex(where: { $0.partition == raw.partition }) {
                    nextOffsets[known].offset = raw.offset + 1
                } else {
                    nextOffsets.append((raw.partition, raw.offset + 1))
                }
            }
            pending = end..<range.upperBound
            defer {
                for index in range.lowerBound..<end where fetched[index] != nil { rd_kafka_message_destroy(fetched[index]) }
            }
            guard views > 0 else { return firstError.map { .failure($0) } ?? .empty }
            defer { borrowed.deinitialize(count: views) }
            let topic = topicName(runTopic)
            var offsets: [TopicPartition: Int64] = [:]
            for (partition, offset) in nextOffsets { offsets[TopicPartition(topic, partition)] = offset }
            let result: R
            do {
                result = try body(BorrowedBatch(topic: topic, messages: UnsafeBufferPointer(start: borrowed, count: views)))
            } catch {
                try store(offsets)
                throw error
            }
            try store(offsets)
            return .delivered(result, deferred: firstError)
        }
    }

    /// The error a fetched message carries, with librdkafka's text.
    private static func fetchError(_ pointer: UnsafeMutablePointer<rd_kafka_message_t>) -> KafkaError {
        KafkaError(pointer.pointee.err, detail: rd_kafka_message_errstr(pointer).map { String(cString: $0) })
    }

    private func topicName(_ rkt: OpaquePointer?) -> String {
        guard let rkt else { return "" }
        if let known = topicNames[rkt] { return known }
        let name = String(cString: rd_kafka_topic_name(rkt))
        topicNames[rkt] = name
        return name
    }

    /// Stores `offsets` (the next offset to read, per partition) for the next commit.
    func store(_ offsets: [TopicPartition: Int64]) throws {
        guard !offsets.isEmpty else { return }
        try withList(offsets) { rk, list in
            let code = rd_kafka_offsets_store(rk, list)
            // A partition revoked meanwhile cannot be stored: it is no longer ours to commit.
            guard code == RD_KAFKA_RESP_ERR_NO_ERROR || code == RD_KAFKA_RESP_ERR__STATE else { throw KafkaError(code) }
        }
        handedOut.record(offsets)
    }

    /// The group metadata of this member (generation and member id) for a transaction.
    func groupMetadata(group: String) throws -> ConsumerGroupMetadata {
        let metadata = try handle.withHandle { rk in TransactionCalls.groupMetadata(rk, group: group) }
        guard let metadata else { throw KafkaError.local(code: -1, message: "librdkafka gave no group metadata for group \(group)") }
        return metadata
    }

    /// Commits `offsets`, or, for nil, every stored offset; returns when the coordinator acknowledged.
    func commit(_ offsets: [TopicPartition: Int64]?) throws {
        try handle.detached { rk in try Self.commitNow(rk, offsets) }
    }

    /// The `async` twin of ``commit(_:)``: waits without holding a thread, cancellable.
    func commit(_ offsets: [TopicPartition: Int64]?) async throws {
        try await handle.detached { rk in try Self.commitNow(rk, offsets) }
    }

    /// librdkafka's synchronous commit of `offsets` (nil: every stored offset).
    private static func commitNow(_ rk: OpaquePointer, _ offsets: [TopicPartition: Int64]?) throws {
        let code: rd_kafka_resp_err_t
        if let offsets {
            code = try withList(offsets) { rd_kafka_commit(rk, $0, 0) }
        } else {
            code = rd_kafka_commit(rk, nil, 0)
        }
        // Nothing stored since the last commit is not a failure.
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR || code == RD_KAFKA_RESP_ERR__NO_OFFSET else { throw KafkaError(code) }
    }

    /// Commits `offsets` from inside a rebalance callback, on its `rk`.
    static func commitGiven(_ rk: OpaquePointer, _ offsets: [TopicPartition: Int64]) throws {
        let code = try withList(offsets) { rd_kafka_commit(rk, $0, 0) }
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR || code == RD_KAFKA_RESP_ERR__NO_OFFSET else { throw KafkaError(code) }
    }

    /// Commits every stored offset from inside a rebalance callback, on its `rk`.
    static func commitStored(_ rk: OpaquePointer) throws {
        let code = rd_kafka_commit(rk, nil, 0)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR || code == RD_KAFKA_RESP_ERR__NO_OFFSET else { throw KafkaError(code) }
    }

    /// The committed offsets of `partitions` (-1 where none).
    func committed(_ partitions: [TopicPartition], timeout: Duration) throws -> [TopicPartition: Int64] {
        let millis = timeout.milliseconds
        return try handle.detached { rk in try Self.committedNow(rk, partitions, millis) }
    }

    /// The `async` twin of ``committed(_:timeout:)``: waits without holding a thread, cancellable.
    func committed(_ partitions: [TopicPartition], timeout: Duration) async throws -> [TopicPartition: Int64] {
        let millis = timeout.milliseconds
        return try await handle.detached { rk in try Self.committedNow(rk, partitions, millis) }
    }

    private static func committedNow(_ rk: OpaquePointer, _ partitions: [TopicPartition], _ millis: Int32) throws -> [TopicPartition: Int64] {
        try withList(Dictionary(uniqueKeysWithValues: partitions.map { ($0, Int64(-1001)) })) { list in
            let code = rd_kafka_committed(rk, list, millis)
            guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code) }
            return offsets(list).mapValues { $0 < 0 ? -1 : $0 }
        }
    }

    /// The partitions currently assigned to this member.
    func assignment() throws -> [TopicPartition] {
        try handle.withHandle { rk in
            var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
            let code = rd_kafka_assignment(rk, &list)
            guard code == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { throw KafkaError(code) }
            defer { rd_kafka_topic_partition_list_destroy(list) }
            return Array(Self.offsets(list).keys).sorted()
        }
    }

    /// The next offset to fetch per assigned partition (-1 where not yet known), and the high watermark librdkafka last saw.
    func positions(_ partitions: [TopicPartition]) throws -> [TopicPartition: (position: Int64, high: Int64)] {
        try handle.withHandle { rk in
            try Self.withList(Dictionary(uniqueKeysWithValues: partitions.map { ($0, Int64(-1001)) })) { list in
                _ = rd_kafka_position(rk, list)
                var result: [TopicPartition: (position: Int64, high: Int64)] = [:]
                for (partition, position) in Self.offsets(list) {
                    var low: Int64 = -1
                    var high: Int64 = -1
                    _ = rd_kafka_get_watermark_offsets(rk, partition.topic, partition.partition, &low, &high)
                    result[partition] = (position < 0 ? -1 : position, high)
                }
                return result
            }
        }
    }

    /// Whether an assigned partition is known to hold messages beyond this member's position
    /// (both its position and librdkafka's last seen high watermark are known).
    func hasUnreadData() -> Bool {
        guard let assigned = try? assignment(), !assigned.isEmpty, let known = try? positions(assigned) else { return false }
        return known.values.contains { $0.position >= 0 && $0.high >= 0 && $0.position < $0.high }
    }

    /// Pauses (true) or resumes fetching `partitions`.
    func pause(_ partitions: [TopicPartition], _ paused: Bool) throws {
        try withList(Dictionary(uniqueKeysWithValues: partitions.map { ($0, Int64(-1001)) })) { rk, list in
            let code = paused ? rd_kafka_pause_partitions(rk, list) : rd_kafka_resume_partitions(rk, list)
            guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code) }
        }
    }

    /// Moves the fetch position of an assigned partition.
    func seek(_ partition: TopicPartition, to offset: Int64, timeout: Duration) throws {
        try withList([partition: offset]) { rk, list in
            if let error = rd_kafka_seek_partitions(rk, list, timeout.milliseconds) {
                defer { rd_kafka_error_destroy(error) }
                throw KafkaError(rd_kafka_error_code(error), detail: rd_kafka_error_string(error).map { String(cString: $0) })
            }
            if let entry = list.pointee.elems, entry.pointee.err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(entry.pointee.err) }
        }
        filter.sought(partition)
    }

    private func withList<R>(_ offsets: [TopicPartition: Int64], _ body: (OpaquePointer, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) throws -> R) throws -> R {
        try handle.withHandle { rk in try Self.withList(offsets) { try body(rk, $0) } }
    }

    /// Runs `body` with a librdkafka list of `offsets` (sorted), freed afterwards.
    static func withList<R>(_ offsets: [TopicPartition: Int64], _ body: (UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) throws -> R) throws -> R {
        guard let list = rd_kafka_topic_partition_list_new(Int32(clamping: offsets.count)) else {
            throw KafkaError.local(code: -1, message: "cannot allocate a partition list")
        }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for (partition, offset) in offsets.sorted(by: { $0.key < $1.key }) {
            rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition)?.pointee.offset = offset
        }
        return try body(list)
    }

    static func offsets(_ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> [TopicPartition: Int64] {
        var result: [TopicPartition: Int64] = [:]
        for index in 0..<Int(list.pointee.cnt) {
            let entry = list.pointee.elems[index]
            result[TopicPartition(entry.topic.map { String(cString: $0) } ?? "", entry.partition)] = entry.offset
        }
        return result
    }

    /// The partitions assigned to `rk` now (empty when librdkafka cannot say), from inside a rebalance callback.
    static func assignment(_ rk: OpaquePointer) -> [TopicPartition] {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        guard rd_kafka_assignment(rk, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return [] }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        return Array(offsets(list).keys)
    }

    /// The partitions of a rebalance callback's list.
    static func partitions(_ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> [TopicPartition] {
        Array(offsets(list).keys).sorted()
    }

    /// What the callback announces: assigned, revoked, or (revoked after eviction) lost.
    static func kind(_ rk: OpaquePointer, _ code: rd_kafka_resp_err_t) -> RebalanceKind {
        if code == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS { return .assigned }
        return rd_kafka_assignment_lost(rk) != 0 ? .lost : .revoked
    }

    /// Applies the change librdkafka announced, incrementally under the cooperative protocol.
    static func apply(_ rk: OpaquePointer, _ code: rd_kafka_resp_err_t, _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        let cooperative = rd_kafka_rebalance_protocol(rk).map { String(cString: $0) } == "COOPERATIVE"
        if code == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS {
            if cooperative {
                if let error = rd_kafka_incremental_assign(rk, list) { rd_kafka_error_destroy(error) }
            } else {
                _ = rd_kafka_assign(rk, list)
            }
        } else if cooperative {
            if let error = rd_kafka_incremental_unassign(rk, list) { rd_kafka_error_destroy(error) }
        } else {
            _ = rd_kafka_assign(rk, nil)
        }
    }
}

/// A partition, and the offset of a message handed out from it.
struct TopicPartitionOffset {
    let topic: String
    let partition: Int32
    let offset: Int64
}
