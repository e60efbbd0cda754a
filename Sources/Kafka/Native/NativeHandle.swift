import Crdkafka
import Foundation
import Synchronization

/// Owns one `rd_kafka_t`: creates it, lends it to callers while open, and
/// destroys it exactly once.
///
/// Every use goes through ``withHandle(_:)``, which counts users; ``close()``
/// refuses new users, wakes blocked ones (via `onClose` hooks), waits for the
/// count to reach zero, stops the poll thread and only then destroys the
/// handle, so no call can touch a destroyed pointer.
final class NativeHandle: @unchecked Sendable {
    // Safe: `rk` is thread-safe per librdkafka's contract; `lifecycle`, `destroyingThread`, the
    // hook tables, `readPartitions`, `topics` and `lastTopic` are guarded by `lock`; `pollThread`
    // and `mainQueue` are set once, in `init`, and read by users (freed only after they left).
    enum Kind { case producer, consumer, groupConsumer }

    let rk: OpaquePointer
    let kind: Kind
    let context: HandleContext
    /// `message.max.bytes` of this handle, for checking sizes before anything is enqueued.
    let maxMessageBytes: Int
    /// `queue.buffering.max.messages` of this handle: how many messages librdkafka may hold.
    let maxQueuedMessages: Int
    private let isClosedFlag = Atomic<Bool>(false)
    /// Calls inside librdkafka that came in through ``enterQuickly()``, plus ``closingBit`` once
    /// closing began: the per-record door of a ``Sender``, two atomic operations where
    /// ``enter()`` and ``leave()`` take the lock twice. Closing waits for it to drain as for
    /// ``lifecycle``'s users; both counts are read with `lock` held when deciding to wake the
    /// closer, so the last of either kind to leave sees the other at zero.
    private let quickUsers = Atomic<Int>(0)
    private static let closingBit = 1 << 62
    /// Signalled whenever delivery reports were served (room in the queue) and at close.
    let queueSpace = QueueSpace()
    /// Turns at enqueuing per partition, so one produce call's messages stay together.
    let turns = PartitionTurns()
    private let lock = PlainLock()
    /// Who may use the handle and who destroys it; ``isClosedFlag`` mirrors "not open" for lock-free reads.
    private var lifecycle = HandleLifecycle()
    /// Woken when the last user leaves (the closer waits for it) and when the handle settles
    /// (second closers wait for that): uses of ``Waiters`` whose checks read ``lifecycle``.
    private let usersGone = Waiters<Bool>()
    private let settledSignal = Waiters<Bool>()
    /// The thread destroying the handle, so that a close from inside its hooks does not wait for itself.
    private var destroyingThread: pthread_t?
    /// Work to run when closing begins, by registration number (in registration order).
    private var closeHooks: [Int: () -> Void] = [:]
    private var nextCloseHook = 0
    private var destroyHooks: [Int: (OpaquePointer) -> Void] = [:]
    /// Partitions being read through ``PartitionQueue``s of this handle: librdkafka reads a
    /// partition once per handle, so a second reader of one gets another handle.
    private var readPartitions: Set<TopicPartitionKey> = []
    private var pollThread: PollThread?
    /// The main queue of a polled handle, served by its ``PollThread`` (and by produce calls that
    /// need room, through ``serveMainQueue()``); destroyed after the poll thread stopped.
    private var mainQueue: OpaquePointer?
    /// Topic handles by name, one reference each, destroyed before the handle.
    private var topics: [String: OpaquePointer] = [:]
    /// The topic handle found last: consecutive calls for one topic skip hashing its name.
    private var lastTopic: (name: String, rkt: OpaquePointer)?
    /// How long closing waits for the teardown (destroy hooks and librdkafka's destroy); nil
    /// waits until it is done.
    let teardownLimit: Duration?

    /// Creates a handle from `properties`.
    /// - Parameter polled: start a thread that serves the handle's main queue
    ///   (delivery reports, errors, statistics); producers need it.
    /// - Throws: `KafkaError.invalidConfiguration(_:)` with librdkafka's text.
    /// - Parameter tokenProvider: answers librdkafka's OAUTHBEARER token refreshes (SASL OAUTHBEARER only).
    /// - Parameter teardownLimit: see ``teardownLimit``; default nil.
    /// - Parameter receipts: delivery reports resolve ``DeliveryReceipt``s (a ``Sender``); default false.
    init(
        kind: Kind, properties: [(String, String)], logger: any KafkaLogger, name: String, polled: Bool,
        tokenProvider: (@Sendable () throws -> SASLConfiguration.OAuthBearerToken)? = nil, teardownLimit: Duration? = nil,
        receipts: Bool = false
    ) throws(KafkaError) {
        let config = NativeConfig()
        for (key, value) in properties { try config.set(key, value) }
        let context = HandleContext(logger: logger, name: name, tokenProvider: tokenProvider, reportsToReceipts: receipts)
        guard let confPointer = config.pointer else {
            throw .invalidConfiguration("librdkafka could not allocate a configuration")
        }
        rd_kafka_conf_set_log_cb(confPointer, logCallback)
        rd_kafka_conf_set_error_cb(confPointer, errorCallback)
        rd_kafka_conf_set_stats_cb(confPointer, statisticsCallback)
        // Delivery reports as events, served in batches (see `MainQueueEvents`).
        if kind == .producer { rd_kafka_conf_set_events(confPointer, Int32(RD_KAFKA_EVENT_DR)) }
        if kind == .groupConsumer { rd_kafka_conf_set_rebalance_cb(confPointer, rebalanceCallback) }
        if tokenProvider != nil { rd_kafka_conf_set_oauthbearer_token_refresh_cb(confPointer, tokenRefreshCallback) }
        let opaque = Unmanaged.passRetained(context)
        rd_kafka_conf_set_opaque(confPointer, opaque.toOpaque())
        let maxBytes = config.get("message.max.bytes").flatMap { Int($0) } ?? 1_000_000
        let maxQueued = config.get("queue.buffering.max.messages").flatMap { Int($0) } ?? 100_000

        var errorText = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(kind == .producer ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER, confPointer, &errorText, errorText.count)
        else {
            opaque.release()
            var text = String(decoding: errorText.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            for (key, value) in properties where PropertyRedaction.isSecret(key) && !value.isEmpty {
                text = text.replacingEvery(value, with: PropertyRedaction.mask)
            }
            throw .invalidConfiguration("librdkafka refused the configuration: \(text)")
        }
        _ = config.release()
        self.rk = rk
        self.kind = kind
        self.context = context
        self.maxMessageBytes = maxBytes
        self.maxQueuedMessages = maxQueued
        self.teardownLimit = teardownLimit
        HandleCounter.live.add(1, ordering: .relaxed)
        if polled, let queue = rd_kafka_queue_get_main(rk) {
            mainQueue = queue
            pollThread = PollThread(rk: rk, queue: queue, name: name, queueSpace: queueSpace)
        }
    }

    deinit {
        close()
    }

    var isClosed: Bool { isClosedFlag.load(ordering: .acquiring) }

    /// Runs `body` with the live handle. Throws `KafkaError.closed` once closing began.
    func withHandle<R>(_ body: (OpaquePointer) throws -> R) throws -> R {
        try enter()
        defer { leave() }
        return try body(rk)
    }

    /// The topic handle for `name`, created on first use with the handle's
    /// default topic settings. Valid only inside ``withHandle(_:)``.
    func topic(_ name: String) throws(KafkaError) -> OpaquePointer {
        lock.lock()
        defer { lock.unlock() }
        return try topicLocked(name)
    }

    /// ``topic(_:)`` with `lock` held.
    private func topicLocked(_ name: String) throws(KafkaError) -> OpaquePointer {
        if let lastTopic, lastTopic.name == name { return lastTopic.rkt }
        if let existing = topics[name] {
            lastTopic = (name, existing)
            return existing
        }
        guard let created = rd_kafka_topic_new(rk, name, nil) else {
            throw KafkaError(rd_kafka_last_error(), detail: "cannot create topic handle for \"\(name)\"")
        }
        topics[name] = created
        lastTopic = (name, created)
        return created
    }

    func enter() throws(KafkaError) {
        lock.lock()
        defer { lock.unlock() }
        guard lifecycle.enter() else { throw .closed }
    }

    func leave() {
        if lock.withLock({ lifecycle.leave() && hasNoUsersLocked }) { usersGone.resumeAll(with: true) }
    }

    /// Counts a call in without taking the lock, for the hot path of a ``Sender``; false once
    /// closing began (nothing to leave). The caller must ``leaveQuickly()`` after its last use of
    /// the handle or of a topic handle it holds (topic handles live until the teardown, which
    /// waits for such calls).
    func enterQuickly() -> Bool {
        let count = quickUsers.wrappingAdd(1, ordering: .sequentiallyConsistent).newValue
        if count & Self.closingBit == 0 { return true }
        leaveQuickly()
        return false
    }

    /// Counts a call of ``enterQuickly()`` out; the last one out while closing, with no other
    /// user left, wakes the closer.
    func leaveQuickly() {
        let count = quickUsers.wrappingSubtract(1, ordering: .sequentiallyConsistent).newValue
        guard count == Self.closingBit else { return }
        if lock.withLock({ hasNoUsersLocked }) { usersGone.resumeAll(with: true) }
    }

    /// Whether no call of either door is inside the handle; with `lock` held.
    private var hasNoUsersLocked: Bool {
        lifecycle.users == 0 && quickUsers.load(ordering: .sequentiallyConsistent) & ~Self.closingBit == 0
    }

    /// Serves the events already in the main queue without waiting (inside ``withHandle(_:)``);
    /// true when delivery reports were among them (room in librdkafka's queue, signalled). False
    /// for a handle that is not polled.
    func serveMainQueue() -> Bool {
        guard let pollThread else { return false }
        let servedReports = pollThread.drain(rk, byCaller: true)
        if servedReports {
            // Signalled before the serving caller is woken: it checks the generation when it looks.
            queueSpace.signal()
            pollThread.wakeServerIfServing()
        }
        return servedReports
    }

    /// Serves the events already in the main queue on the calling thread, inside ``withHandle(_:)``,
    /// when librdkafka announced events since the queue was last drained (one atomic load, not the
    /// queue's lock) and no other caller serves: what a raw C producer's `rd_kafka_poll(rk, 0)`
    /// after each produce does. A ``Sender`` calls it after each send, so delivery reports are
    /// mostly served, and their messages freed, on the thread that allocated them: served on the
    /// poll thread alone, the two threads contended for malloc's arena and the queue's lock.
    func serveEventsInline(_ rk: OpaquePointer) {
        guard let mainQueue, let pollThread, pollThread.hasAnnouncedEvents, pollThread.claimServing() else { return }
        if pollThread.drain(rk, byCaller: true) { queueSpace.signal() }
        pollThread.resume(queueHasEvents: rd_kafka_queue_length(mainQueue) > 0)
    }

    /// Makes the calling produce call the server of the main queue, in place of the poll thread,
    /// until ``endServing()``. It then serves the reports between its chunks and while it waits
    /// (``serveMainQueue(until:)``, ``waitForMainQueueEvent(unless:)``), so they are served, and
    /// their messages freed, on the thread that allocated them, as raw C callers do. Serving them
    /// on the poll thread instead made the two threads contend for malloc's arena lock, measured
    /// at a tenth of a large call's CPU.
    ///
    /// One caller serves at a time. Returns false, changing nothing, when another caller serves or
    /// the handle is not polled or closed. Serving holds no user of the handle: every use of the
    /// queue below enters the handle for its own duration, so closing never waits for a serving
    /// `async` call to be scheduled again.
    func beginServing() -> Bool {
        guard !isClosed, let pollThread else { return false }
        return pollThread.claimServing()
    }

    /// Hands the main queue back to the poll thread; only after ``beginServing()`` returned true.
    func endServing() {
        let waiting = (try? withHandle { _ in mainQueue.map { rd_kafka_queue_length($0) > 0 } ?? false }) ?? false
        pollThread?.resume(queueHasEvents: waiting)
    }

    /// Serves the main queue on the calling thread, the server (see ``beginServing()``), until
    /// `isDone()` or closing (seen within one poll timeout, after which the call leaves the handle).
    func serveMainQueue(until isDone: () -> Bool) {
        guard let mainQueue, let pollThread else { return }
        _ = try? withHandle { rk in
            while !isDone() && !isClosed {
                guard let event = rd_kafka_queue_poll(mainQueue, 10) else { continue }
                if MainQueueEvents.serve(rk, event, pollThread) { queueSpace.signal() }
            }
        }
    }

    /// Suspends the serving `async` caller (see ``beginServing()``) until the main queue holds an
    /// event, without blocking a thread; the caller then serves it (``serveMainQueue()``). librdkafka
    /// resumes it (the queue's event callback), so the reports are served on the caller's side
    /// rather than by the poll thread. Whoever else serves reports meanwhile (another call making
    /// room, the poll thread's backstop) resumes it too. Returns at once when `isDone()` holds,
    /// the queue is not empty or the handle closed.
    /// - Throws: `CancellationError` when the task is cancelled.
    func waitForMainQueueEvent(unless isDone: () -> Bool) async throws {
        guard let mainQueue, let pollThread else { return }
        try await pollThread.waitForEvent {
            isDone() || ((try? withHandle { _ in rd_kafka_queue_length(mainQueue) > 0 }) ?? true)
        }
    }

    /// Runs `body`, one blocking librdkafka call (watermarks, commit, metadata), on a thread of
    /// the ``CallPool``, and waits for its result or for closing, whichever comes first:
    /// ``close()`` returns at once whatever such a call is waiting for, and the caller gets
    /// `KafkaError.closed`; the handle is destroyed when the call returns. Called on a pool
    /// thread (inside an `async` twin's body), it runs inline.
    func detached<R: Sendable>(_ body: @escaping @Sendable (OpaquePointer) throws -> R) throws -> R {
        if CallPool.isPoolThread {
            try enterDetached()
            defer { leaveDetached() }
            return try body(rk)
        }
        let completion = try startDetached(body)
        return try completion.waitBlocking()
    }

    /// The `async` twin of ``detached(_:)``: suspends without holding a thread; a cancelled task
    /// stops waiting at once (`CancellationError`) while the call runs to its end on the pool.
    func detached<R: Sendable>(_ body: @escaping @Sendable (OpaquePointer) throws -> R) async throws -> R {
        let completion = try startDetached(body)
        return try await completion.wait()
    }

    /// Counts a detached call in, or throws `KafkaError.closed` once closing began.
    private func enterDetached() throws(KafkaError) {
        guard lock.withLock({ lifecycle.enterDetached() }) else { throw .closed }
    }

    /// Starts `body` on the pool; its completion ends with `KafkaError.closed` when closing begins first.
    private func startDetached<R: Sendable>(_ body: @escaping @Sendable (OpaquePointer) throws -> R) throws -> Completion<R> {
        try enterDetached()
        let completion = Completion<R>()
        let wakeUp = onCloseRemovable { completion.close(with: .closed) }
        CallPool.shared.run { [self] in
            completion.finish(Result { try body(rk) })
            removeCloseHook(wakeUp)
            leaveDetached()
        }
        return completion
    }

    private func leaveDetached() {
        if lock.withLock({ lifecycle.leaveDetached() }) == .destroy { destroy(within: teardownLimit) }
    }

    /// Registers work to run when closing begins, before waiting for users:
    /// waking a blocked consume, failing waiting produce calls.
    func onClose(_ hook: @escaping () -> Void) {
        _ = onCloseRemovable(hook)
    }

    /// Like ``onClose(_:)``, for work that matters only while one call is in flight: returns
    /// a number for ``removeCloseHook(_:)`` (nil when the handle is already closed and `hook` ran).
    @discardableResult
    func onCloseRemovable(_ hook: @escaping () -> Void) -> Int? {
        let number: Int? = lock.withLock {
            guard lifecycle.isOpen else { return nil }
            nextCloseHook += 1
            closeHooks[nextCloseHook] = hook
            return nextCloseHook
        }
        if number == nil { hook() }
        return number
    }

    /// Drops a hook registered with ``onCloseRemovable(_:)``; harmless after close.
    func removeCloseHook(_ number: Int?) {
        guard let number else { return }
        _ = lock.withLock { closeHooks.removeValue(forKey: number) }
    }

    /// Registers cleanup that needs the live handle but no users, run once
    /// closing has waited for every user (stopping a consumer, freeing a queue).
    @discardableResult
    func beforeDestroy(_ hook: @escaping (OpaquePointer) -> Void) -> Int {
        lock.withLock {
            nextCloseHook += 1
            destroyHooks[nextCloseHook] = hook
            return nextCloseHook
        }
    }

    /// Drops a hook registered with ``beforeDestroy(_:)``, once its work was done otherwise.
    func removeDestroyHook(_ number: Int) {
        _ = lock.withLock { destroyHooks.removeValue(forKey: number) }
    }

    /// Claims `topic`/`partition` for one reader; false when this handle already reads it or is closed.
    func claim(_ topic: String, _ partition: Int32) -> Bool {
        lock.withLock {
            lifecycle.isOpen && readPartitions.insert(TopicPartitionKey(topic: topic, partition: partition)).inserted
        }
    }

    /// Gives back a partition claimed with ``claim(_:_:)``.
    func release(_ topic: String, _ partition: Int32) {
        _ = lock.withLock { readPartitions.remove(TopicPartitionKey(topic: topic, partition: partition)) }
    }

    /// How many partitions are read through this handle.
    var readPartitionCount: Int { lock.withLock { readPartitions.count } }

    /// Closes the handle: idempotent, safe from any thread, returns once the
    /// handle is destroyed (or, if another thread is destroying it, at once), or once the
    /// ``teardownLimit`` passed.
    func close() {
        close(within: teardownLimit)
    }

    /// ``close()``, waiting for the teardown at most `limit` (nil: until it is done); a broker
    /// closing its group members passes what is left of its own bound.
    func close(within limit: Duration?) {
        let hooks: [() -> Void]? = lock.withLock {
            guard lifecycle.beginClose() else { return nil }
            isClosedFlag.store(true, ordering: .releasing)
            quickUsers.bitwiseOr(Self.closingBit, ordering: .sequentiallyConsistent)
            destroyingThread = pthread_self()
            defer { closeHooks.removeAll() }
            return closeHooks.sorted { $0.key < $1.key }.map(\.value)
        }
        guard let hooks else {
            // Another thread is closing: wait until it has finished (so that a broker's close
            // returns with every handle gone), unless this thread is that one, inside a hook.
            let isDestroyingThread = lock.withLock { destroyingThread.map { pthread_equal($0, pthread_self()) != 0 } ?? false }
            guard !isDestroyingThread else { return }
            _ = try? settledSignal.waitBlocking(timeout: nil, onTimeout: false) {
                lock.withLock { lifecycle.isSettledForClosers } ? true : nil
            }
            return
        }
        for hook in hooks { hook() }
        queueSpace.signal()
        pollThread?.interruptWaiter()
        abandonDeliveries()
        _ = try? usersGone.waitBlocking(timeout: nil, onTimeout: false) { lock.withLock { hasNoUsersLocked } ? true : nil }
        // A detached call still inside librdkafka destroys the handle when it returns.
        let action = lock.withLock { lifecycle.usersLeft() }
        if action == .destroy { destroy(within: limit) } else { settledSignal.resumeAll(with: true) }
    }

    /// Frees everything once no call uses the handle (see ``teardown()``). With a `limit` the
    /// teardown runs on a thread of its own and closing waits for it at most that long: a group
    /// member's last commit and leave wait for the coordinator, and librdkafka's destroy for the
    /// requests still in flight. Past the limit the teardown goes on in the background and frees
    /// everything when it ends. (A thread of its own, not the ``CallPool``: a teardown that never
    /// ends must not take a pool thread for good.)
    private func destroy(within limit: Duration?) {
        guard let limit else { return teardown() }
        let finished = Completion<Bool>()
        let thread = Thread { [self] in
            teardown()
            finished.finish(.success(true))
        }
        thread.name = "kafka-teardown"
        thread.start()
        guard (try? finished.waitBlocking(timeout: limit)) == nil else { return }
        context.logger.warn(
            "closing did not finish within its limit (a coordinator or broker that does not answer); it goes on in the background",
            [("handle", context.name), ("limit", "\(limit)")]
        )
        lock.withLock { lifecycle.settle() }
        settledSignal.resumeAll(with: true)
    }

    /// The poll thread, the consumers' queues (destroy hooks), topic handles, the handle itself,
    /// then the context.
    private func teardown() {
        lock.withLock { destroyingThread = pthread_self() }
        // Batches registered by callers that were inside the handle when closing began.
        abandonDeliveries()
        pollThread?.stop(rk: rk)
        settleReceipts()
        if let mainQueue { rd_kafka_queue_destroy(mainQueue) }
        let lastHooks = lock.withLock { () -> [(OpaquePointer) -> Void] in
            defer { destroyHooks.removeAll() }
            return destroyHooks.sorted { $0.key < $1.key }.map(\.value)
        }
        for hook in lastHooks { hook(rk) }
        let openTopics = lock.withLock { () -> [OpaquePointer] in
            defer {
                topics.removeAll()
                lastTopic = nil
            }
            return Array(topics.values)
        }
        for topic in openTopics {
            rd_kafka_topic_destroy(topic)
        }
        if kind == .producer {
            _ = rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT | RD_KAFKA_PURGE_F_NON_BLOCKING)
        }
        release()
    }

    /// Destroys the `rd_kafka_t`, then releases what its callbacks used; marks the handle settled.
    private func release() {
        rd_kafka_destroy_flags(rk, Int32(RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE))
        HandleCounter.live.subtract(1, ordering: .relaxed)
        // No callback can run any more: release batches whose reports never came, then the context.
        let leftover = context.deliveries.withLock { deliveries in
            defer { deliveries.removeAll() }
            return Array(deliveries.values)
        }
        for batch in leftover { Unmanaged.passUnretained(batch).release() }
        Unmanaged.passUnretained(context).release()
        lock.withLock { lifecycle.settle() }
        settledSignal.resumeAll(with: true)
    }

    private func abandonDeliveries() {
        let waiting = context.deliveries.withLock { Array($0.values) }
        for batch in waiting { batch.abandon() }
    }

    /// A sender's handle: purges the records still in flight and serves every delivery report,
    /// so each receipt librdkafka holds is resolved (delivered, failed, or `closed` for a purged
    /// record) and released. After a blocking purge every report is queued already; the bound only
    /// guards against a librdkafka that never answers.
    private func settleReceipts() {
        guard context.reportsToReceipts, let mainQueue else { return }
        _ = rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT)
        let deadline = ContinuousClock.now + Self.receiptSettleLimit
        while rd_kafka_outq_len(rk) > 0 && ContinuousClock.now < deadline {
            guard let event = rd_kafka_queue_poll(mainQueue, 10) else { continue }
            _ = MainQueueEvents.serve(rk, event, nil)
        }
        let left = rd_kafka_outq_len(rk)
        if left > 0 {
            context.logger.error(
                "closing a sender left records without a delivery report; their receipts stay unresolved",
                [("handle", context.name), ("records", "\(left)")]
            )
        }
    }

    /// How long closing a sender waits for the reports of its purged records.
    private static let receiptSettleLimit: Duration = .seconds(5)
}
