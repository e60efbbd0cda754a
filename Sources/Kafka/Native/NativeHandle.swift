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
    // Safe: `rk` is thread-safe per librdkafka's contract; `closed`/`users`/
    // `closeHooks` are guarded by `lock`.
    enum Kind { case producer, consumer, groupConsumer }

    let rk: OpaquePointer
    let kind: Kind
    let context: HandleContext
    /// `message.max.bytes` of this handle, for checking sizes before anything is enqueued.
    let maxMessageBytes: Int
    /// `queue.buffering.max.messages` of this handle: how many messages librdkafka may hold.
    let maxQueuedMessages: Int
    let isClosedFlag = Atomic<Bool>(false)
    /// Signalled whenever delivery reports were served (room in the queue) and at close.
    let queueSpace = QueueSpace()
    /// Turns at enqueuing per partition, so one produce call's messages stay together.
    let turns = PartitionTurns()
    private let lock = ConditionLock()
    private var users = 0
    /// Calls running on threads of their own (see ``detached(_:)``), which closing does not wait for.
    private var detachedUsers = 0
    /// Set when closing found detached calls: the last of them destroys the handle.
    private var destroyDeferred = false
    /// Set once the handle is destroyed, or its destruction left to a detached call.
    private var settled = false
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
    /// How long closing waits for the teardown (destroy hooks and librdkafka's destroy); nil
    /// waits until it is done.
    let teardownLimit: Duration?

    /// Creates a handle from `properties`.
    /// - Parameter polled: start a thread that serves the handle's main queue
    ///   (delivery reports, errors, statistics); producers need it.
    /// - Throws: ``KafkaError/invalidConfiguration(_:)`` with librdkafka's text.
    /// - Parameter tokenProvider: answers librdkafka's OAUTHBEARER token refreshes (SASL OAUTHBEARER only).
    /// - Parameter teardownLimit: see ``teardownLimit``; default nil.
    init(
        kind: Kind, properties: [(String, String)], logger: any KafkaLogger, name: String, polled: Bool,
        tokenProvider: (@Sendable () throws -> SASLConfiguration.OAuthBearerToken)? = nil, teardownLimit: Duration? = nil
    ) throws(KafkaError) {
        let config = NativeConfig()
        for (key, value) in properties { try config.set(key, value) }
        let context = HandleContext(logger: logger, name: name, tokenProvider: tokenProvider)
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

    /// Runs `body` with the live handle. Throws ``KafkaError/closed`` once closing began.
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
        if let existing = topics[name] { return existing }
        guard let created = rd_kafka_topic_new(rk, name, nil) else {
            throw KafkaError(rd_kafka_last_error(), detail: "cannot create topic handle for \"\(name)\"")
        }
        topics[name] = created
        return created
    }

    func enter() throws(KafkaError) {
        lock.lock()
        defer { lock.unlock() }
        guard !isClosedFlag.load(ordering: .relaxed) else { throw .closed }
        users += 1
    }

    func leave() {
        lock.withLock {
            users -= 1
            if users == 0 { lock.broadcast() }
        }
    }

    /// Serves the events already in the main queue without waiting (inside ``withHandle(_:)``);
    /// true when delivery reports were among them (room in librdkafka's queue, signalled). False
    /// for a handle that is not polled.
    func serveMainQueue() -> Bool {
        guard let mainQueue, let pollThread else { return false }
        let servedReports = MainQueueEvents.serveAvailable(rk, mainQueue, pollThread)
        if servedReports {
            // Signalled before the serving caller is woken: it checks the generation when it looks.
            queueSpace.signal()
            pollThread.wakeServerIfServing()
        }
        return servedReports
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
    /// its own, and waits for its result or for closing, whichever comes first: ``close()``
    /// returns at once whatever such a call is waiting for, and the caller gets
    /// ``KafkaError/closed``; the handle is destroyed when the call returns.
    func detached<R: Sendable>(_ body: @escaping @Sendable (OpaquePointer) throws -> R) throws -> R {
        let entered: Bool = lock.withLock {
            guard !isClosedFlag.load(ordering: .relaxed) else { return false }
            detachedUsers += 1
            return true
        }
        guard entered else { throw KafkaError.closed }
        let outcome = DetachedOutcome<R>()
        let wakeUp = onCloseRemovable { outcome.finish(.failure(KafkaError.closed)) }
        let thread = Thread { [self] in
            outcome.finish(Result { try body(rk) })
            leaveDetached()
        }
        thread.name = "kafka-call"
        thread.start()
        let result = outcome.wait()
        removeCloseHook(wakeUp)
        return try result.get()
    }

    private func leaveDetached() {
        let destroyNow: Bool = lock.withLock {
            detachedUsers -= 1
            guard detachedUsers == 0, destroyDeferred else { return false }
            destroyDeferred = false
            return true
        }
        if destroyNow { destroy() }
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
            if isClosedFlag.load(ordering: .relaxed) { return nil }
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
            !isClosedFlag.load(ordering: .relaxed) && readPartitions.insert(TopicPartitionKey(topic: topic, partition: partition)).inserted
        }
    }

    /// Gives back a partition claimed with ``claim(_:_:)``.
    func release(_ topic: String, _ partition: Int32) {
        _ = lock.withLock { readPartitions.remove(TopicPartitionKey(topic: topic, partition: partition)) }
    }

    /// How many partitions are read through this handle.
    var readPartitionCount: Int { lock.withLock { readPartitions.count } }

    /// Closes the handle: idempotent, safe from any thread, returns once the
    /// handle is destroyed (or, if another thread is destroying it, at once).
    func close() {
        let hooks: [() -> Void]? = lock.withLock {
            guard !isClosedFlag.load(ordering: .relaxed) else { return nil }
            isClosedFlag.store(true, ordering: .releasing)
            defer { closeHooks.removeAll() }
            return closeHooks.sorted { $0.key < $1.key }.map(\.value)
        }
        guard let hooks else {
            // Another thread is closing: wait until it has finished (so that a broker's close
            // returns with every handle gone), unless this thread is that one, inside a hook.
            lock.withLock {
                if let destroyingThread, pthread_equal(destroyingThread, pthread_self()) != 0 { return }
                lock.wait { settled }
            }
            return
        }
        lock.withLock { destroyingThread = pthread_self() }
        for hook in hooks { hook() }
        queueSpace.signal()
        pollThread?.interruptWaiter()
        abandonDeliveries()
        let destroyNow: Bool = lock.withLock {
            lock.wait { users == 0 }
            // A detached call still inside librdkafka destroys the handle when it returns.
            destroyDeferred = detachedUsers > 0
            if destroyDeferred {
                settled = true
                lock.broadcast()
            }
            return !destroyDeferred
        }
        if destroyNow { destroy() }
    }

    /// Frees everything once no call uses the handle (see ``teardown()``). With a ``teardownLimit``
    /// the teardown runs on a thread of its own and closing waits for it at most that long: a group
    /// member's last commit and leave wait for the coordinator, and librdkafka's destroy for the
    /// requests still in flight. Past the limit the teardown goes on in the background and frees
    /// everything when it ends.
    private func destroy() {
        guard let limit = teardownLimit else { return teardown() }
        let finished = DispatchSemaphore(value: 0)
        Thread.detachNewThread { [self] in
            teardown()
            finished.signal()
        }
        guard finished.wait(timeout: .now() + .nanoseconds(Int(clamping: limit.nanoseconds))) == .timedOut else { return }
        context.logger.warn(
            "closing did not finish within its limit (a coordinator or broker that does not answer); it goes on in the background",
            [("handle", context.name), ("limit", "\(limit)")]
        )
        lock.withLock {
            settled = true
            lock.broadcast()
        }
    }

    /// The poll thread, the consumers' queues (destroy hooks), topic handles, the handle itself,
    /// then the context.
    private func teardown() {
        lock.withLock { destroyingThread = pthread_self() }
        // Batches registered by callers that were inside the handle when closing began.
        abandonDeliveries()
        pollThread?.stop(rk: rk)
        if let mainQueue { rd_kafka_queue_destroy(mainQueue) }
        let lastHooks = lock.withLock { () -> [(OpaquePointer) -> Void] in
            defer { destroyHooks.removeAll() }
            return destroyHooks.sorted { $0.key < $1.key }.map(\.value)
        }
        for hook in lastHooks { hook(rk) }
        for topic in lock.withLock({ () -> [OpaquePointer] in defer { topics.removeAll() }; return Array(topics.values) }) {
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
        lock.withLock {
            settled = true
            lock.broadcast()
        }
    }

    private func abandonDeliveries() {
        let waiting = context.deliveries.withLock { Array($0.values) }
        for batch in waiting { batch.abandon() }
    }
}

/// The result of a ``NativeHandle/detached(_:)`` call, set once by the call or by closing.
private final class DetachedOutcome<R: Sendable>: @unchecked Sendable {
    // Safe: `result` is only touched with `lock` held.
    private let lock = ConditionLock()
    private var result: Result<R, any Error>?

    func finish(_ outcome: Result<R, any Error>) {
        lock.withLock {
            guard result == nil else { return }
            result = outcome
            lock.broadcast()
        }
    }

    func wait() -> Result<R, any Error> {
        lock.withLock {
            lock.wait { result != nil }
            return result ?? .failure(KafkaError.closed)
        }
    }
}

/// A topic and partition, as a dictionary or set key.
struct TopicPartitionKey: Hashable, Sendable {
    let topic: String
    let partition: Int32
}

/// Counts live librdkafka handles, so tests can prove that close leaks none.
public enum HandleCounter {
    /// Number of `rd_kafka_t` handles created by this library and not yet destroyed.
    public static var liveHandles: Int { live.load(ordering: .relaxed) }
    static let live = Atomic<Int>(0)
}

/// The one thread per polled handle that serves librdkafka's main queue: errors,
/// statistics and delivery reports, as events.
///
/// The thread does not wait inside librdkafka: librdkafka tells it when the queue gets an
/// event (a queue event callback, on the enqueuing thread), unless a blocking produce call
/// serves the queue meanwhile (see ``NativeHandle/beginServing()``); that call then waits in
/// the queue itself and this thread stays asleep, so handing the queue over costs no wake-up.
final class PollThread: @unchecked Sendable {
    // Safe: `running`, `paused`, `pending`, `tokenRefreshRequested`, `waiter` and `nextWaiter` are
    // only touched with `lock` held.
    private let lock = ConditionLock()
    private var running = true
    /// Set while a produce call serves the queue in this thread's place (``claimServing()``): the
    /// one record of who serves.
    private var paused = false
    /// Set when the queue got an event this thread has not looked at yet.
    private var pending = false
    /// Set when a serving caller took a token refresh event from the queue.
    private var tokenRefreshRequested = false
    /// The serving `async` caller waiting for an event, if any.
    private var waiter: (id: UInt64, continuation: CheckedContinuation<Void, any Error>)?
    private var nextWaiter: UInt64 = 0
    private let done = DispatchSemaphore(value: 0)
    private let queue: OpaquePointer

    init(rk: OpaquePointer, queue: OpaquePointer, name: String, queueSpace: QueueSpace) {
        self.queue = queue
        let rkAddress = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(rk)))
        let queueAddress = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(queue)))
        // Unretained: the handle keeps this object until `stop()`, which disables the callback first.
        rd_kafka_queue_cb_event_enable(queue, mainQueueEventCallback, Unmanaged.passUnretained(self).toOpaque())
        let thread = Thread { [self] in
            guard let rk = OpaquePointer(bitPattern: rkAddress), let queue = OpaquePointer(bitPattern: queueAddress) else { return }
            while true {
                let (go, refreshesToken): (Bool, Bool) = lock.withLock {
                    // The timeout is a backstop: every event is announced, and a serving caller serves
                    // it. Should that caller be held up (a starved thread pool), the queue is still
                    // served every 100 ms, so no other call waits for it for long.
                    lock.wait(milliseconds: 100) { (pending && !paused) || !running || tokenRefreshRequested }
                    pending = false
                    defer { tokenRefreshRequested = false }
                    return (running, tokenRefreshRequested)
                }
                guard go else { break }
                if refreshesToken { refreshToken(rk) }
                // Served reports freed their messages: produce calls waiting for room may go on.
                if MainQueueEvents.serveAvailable(rk, queue, nil) {
                    queueSpace.signal()
                    // A caller that began serving meanwhile may wait for these very reports: wake it to
                    // look (read under the lock, so a pause that came later sees them served).
                    wakeServerIfServing()
                }
            }
            // Serve what is left (reports of purged messages) once more before stopping.
            _ = MainQueueEvents.serveAvailable(rk, queue, nil)
            done.signal()
        }
        thread.name = "kafka-poll-\(name)"
        thread.start()
    }

    /// The queue got an event (librdkafka's callback, with the queue's lock held): wakes the
    /// serving `async` caller if one waits, else this thread unless a caller serves.
    fileprivate func announce() {
        let resumed: CheckedContinuation<Void, any Error>? = lock.withLock {
            pending = true
            if !paused { lock.broadcast() }
            defer { waiter = nil }
            return waiter?.continuation
        }
        resumed?.resume()
    }

    /// Suspends until ``announce()`` or ``interruptWaiter()``, unless `ready()` (checked once the
    /// waiter is registered, so an event announced before is not missed) holds already.
    /// - Throws: `CancellationError` when the task is cancelled.
    func waitForEvent(unless ready: () -> Bool) async throws {
        let id = lock.withLock { () -> UInt64 in
            nextWaiter &+= 1
            return nextWaiter
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let cancelled = lock.withLock { () -> Bool in
                    if Task.isCancelled { return true }
                    waiter = (id, continuation)
                    return false
                }
                if cancelled {
                    continuation.resume(throwing: CancellationError())
                } else if ready() {
                    resumeWaiter(id, with: .success(()))
                }
            }
        } onCancel: {
            resumeWaiter(id, with: .failure(CancellationError()))
        }
    }

    /// Wakes the serving caller, if a caller serves, so that it looks again: a blocking one
    /// waiting in the queue, an `async` one suspended in ``waitForEvent(unless:)``.
    func wakeServerIfServing() {
        guard lock.withLock({ paused }) else { return }
        rd_kafka_queue_yield(queue)
        interruptWaiter()
    }

    /// Wakes the waiting serving caller, if any, so that it sees closing.
    func interruptWaiter() {
        let resumed: CheckedContinuation<Void, any Error>? = lock.withLock {
            defer { waiter = nil }
            return waiter?.continuation
        }
        resumed?.resume()
    }

    private func resumeWaiter(_ id: UInt64, with result: Result<Void, any Error>) {
        let resumed: CheckedContinuation<Void, any Error>? = lock.withLock {
            guard let current = waiter, current.id == id else { return nil }
            waiter = nil
            return current.continuation
        }
        resumed?.resume(with: result)
    }

    /// Leaves the queue to the calling produce call until ``resume(queueHasEvents:)``; false,
    /// changing nothing, when another call serves already (one serves at a time).
    func claimServing() -> Bool {
        lock.withLock {
            guard !paused else { return false }
            paused = true
            return true
        }
    }

    /// Takes the queue back, serving whatever the caller left in it (`queueHasEvents`: events
    /// enqueued while it was not empty are never announced).
    func resume(queueHasEvents: Bool) {
        lock.withLock {
            paused = false
            if queueHasEvents { pending = true }
            if pending { lock.broadcast() }
        }
    }

    /// Has this thread answer an OAUTHBEARER token refresh that a serving caller took from the
    /// queue: the token provider runs here, never on a produce call's thread.
    func requestTokenRefresh() {
        lock.withLock {
            tokenRefreshRequested = true
            lock.broadcast()
        }
    }

    func stop(rk: OpaquePointer) {
        rd_kafka_queue_cb_event_enable(queue, nil, nil)
        lock.withLock {
            running = false
            lock.broadcast()
        }
        done.wait()
    }
}

/// librdkafka's event callback of a polled handle's main queue: wakes its poll thread.
private let mainQueueEventCallback: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void = { _, opaque in
    guard let opaque else { return }
    Unmanaged<PollThread>.fromOpaque(opaque).takeUnretainedValue().announce()
}
