import Crdkafka
import Foundation
import Synchronization

/// The one thread per polled handle that serves librdkafka's main queue: errors,
/// statistics and delivery reports, as events.
///
/// The thread does not wait inside librdkafka: librdkafka tells it when the queue gets an
/// event (a queue event callback, on the enqueuing thread), unless a blocking produce call
/// serves the queue meanwhile (see ``NativeHandle/beginServing()``); that call then waits in
/// the queue itself and this thread stays asleep, so handing the queue over costs no wake-up.
final class PollThread: @unchecked Sendable {
    // Safe: `running`, `paused`, `pending` and `tokenRefreshRequested` are only touched with `lock` held.
    private let lock = PlainLock()
    private var running = true
    /// Set while a produce call serves the queue in this thread's place (``claimServing()``): the
    /// one record of who serves.
    private var paused = false
    /// Set when the queue got an event this thread has not looked at yet.
    private var pending = false
    /// Set when a serving caller took a token refresh event from the queue.
    private var tokenRefreshRequested = false
    /// The serving `async` caller waiting for an event, if any.
    private let eventWaiters = Waiters<Bool>()
    /// Finished when the thread stopped.
    private let done = Completion<Bool>()
    /// Where the thread parks between events (a use of ``Waiters``; its check reads the flags).
    private let wake = Waiters<Bool>()
    private let queue: OpaquePointer
    /// Set when librdkafka announces an event, cleared by whoever then drains the queue (before
    /// draining, so an event announced meanwhile leaves it set): a send checks it with one load
    /// instead of taking the queue's lock to read its length. Only a hint: a stale `true` costs
    /// one empty poll, and the queue is never left unserved, as the thread serves it regardless.
    private let announced = Atomic<Bool>(false)

    init(rk: OpaquePointer, queue: OpaquePointer, name: String, queueSpace: QueueSpace) {
        self.queue = queue
        let rkAddress = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(rk)))
        // Unretained: the handle keeps this object until `stop()`, which disables the callback first.
        rd_kafka_queue_cb_event_enable(queue, mainQueueEventCallback, Unmanaged.passUnretained(self).toOpaque())
        let thread = Thread { [self] in
            guard let rk = OpaquePointer(bitPattern: rkAddress) else { return }
            while true {
                // The timeout is a backstop: every event is announced, and a serving caller serves
                // it. Should that caller be held up (a starved thread pool), the queue is still
                // served every 100 ms, so no other call waits for it for long.
                _ = try? wake.waitBlocking(timeout: .milliseconds(100), onTimeout: false) {
                    lock.withLock { (pending && !paused) || !running || tokenRefreshRequested } ? true : nil
                }
                let (go, refreshesToken): (Bool, Bool) = lock.withLock {
                    pending = false
                    defer { tokenRefreshRequested = false }
                    return (running, tokenRefreshRequested)
                }
                guard go else { break }
                if refreshesToken { refreshToken(rk) }
                // Served reports freed their messages: produce calls waiting for room may go on.
                if drain(rk, byCaller: false) {
                    queueSpace.signal()
                    // A caller that began serving meanwhile may wait for these very reports: wake it to
                    // look (read under the lock, so a pause that came later sees them served).
                    wakeServerIfServing()
                }
            }
            // Serve what is left (reports of purged messages) once more before stopping.
            _ = drain(rk, byCaller: false)
            done.finish(.success(true))
        }
        thread.name = "kafka-poll-\(name)"
        thread.start()
    }

    /// The queue got an event (librdkafka's callback, with the queue's lock held): wakes the
    /// serving `async` caller if one waits, else this thread unless a caller serves.
    fileprivate func announce() {
        announced.store(true, ordering: .releasing)
        let wakesThread: Bool = lock.withLock {
            pending = true
            return !paused
        }
        if wakesThread { wake.resumeAll(with: true) }
        eventWaiters.resumeAll(with: true)
    }

    /// Whether librdkafka announced an event since the queue was last drained (see ``announced``).
    var hasAnnouncedEvents: Bool { announced.load(ordering: .acquiring) }

    /// Serves every event already in the queue (``MainQueueEvents/serveAvailable(_:_:_:)``); true
    /// when any carried delivery reports. Clears ``announced`` first, so an event announced while
    /// the queue drains leaves it set. `byCaller`: a produce call serves in this thread's place
    /// (a token refresh is then handed to this thread).
    func drain(_ rk: OpaquePointer, byCaller: Bool) -> Bool {
        announced.store(false, ordering: .releasing)
        return MainQueueEvents.serveAvailable(rk, queue, byCaller ? self : nil)
    }

    /// Suspends until ``announce()`` or ``interruptWaiter()``, unless `ready()` (checked once the
    /// waiter is registered, so an event announced before is not missed) holds already.
    /// - Throws: `CancellationError` when the task is cancelled.
    func waitForEvent(unless ready: () -> Bool) async throws {
        _ = try await eventWaiters.wait(timeout: nil, onTimeout: false) { ready() ? true : nil }
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
        eventWaiters.resumeAll(with: true)
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
        let wakesThread: Bool = lock.withLock {
            paused = false
            if queueHasEvents { pending = true }
            return pending
        }
        if wakesThread { wake.resumeAll(with: true) }
    }

    /// Has this thread answer an OAUTHBEARER token refresh that a serving caller took from the
    /// queue: the token provider runs here, never on a produce call's thread.
    func requestTokenRefresh() {
        lock.withLock { tokenRefreshRequested = true }
        wake.resumeAll(with: true)
    }

    func stop(rk: OpaquePointer) {
        rd_kafka_queue_cb_event_enable(queue, nil, nil)
        lock.withLock { running = false }
        wake.resumeAll(with: true)
        _ = try? done.waitBlocking()
    }
}

/// librdkafka's event callback of a polled handle's main queue: wakes its poll thread.
private let mainQueueEventCallback: @convention(c) (OpaquePointer?, UnsafeMutableRawPointer?) -> Void = { _, opaque in
    guard let opaque else { return }
    Unmanaged<PollThread>.fromOpaque(opaque).takeUnretainedValue().announce()
}
