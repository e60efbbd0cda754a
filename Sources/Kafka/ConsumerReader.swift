import Synchronization

/// How a ``ConsumerReader`` reads: the consumer's settings it needs.
struct ReadSettings: Sendable {
    /// How long one fetch waits for its first message: Go's retry window (`requestTimeout`).
    let window: Duration
    let readsHeaders: Bool
    /// Sleeps the retry waits.
    let clock: any RetryClock
    /// The fresh ``FetchMachine`` each read call starts from (a value: each call copies it).
    let machine: FetchMachine
}

/// The one read path of ``BrokerConsumer`` and ``GroupConsumer``: the buffer of fetched
/// messages, the fetch lock, and the blocking, `async` and borrowing reads, all driven by
/// ``FetchMachine``. A consumer is a thin front over a reader and its ``FetchSource``.
///
/// A blocking read holds the fetch lock while it waits in librdkafka; an `async` read never
/// holds it across a suspension: it fetches without waiting, and suspends on the source's
/// ``QueueSignal`` until librdkafka enqueues something, the window passes, or the task is
/// cancelled. Any number of reads may wait at once; each message is handed out once.
final class ConsumerReader<Source: FetchSource>: @unchecked Sendable {
    // Safe: `buffer`, `deferredError`, `stickyError` and the source's own state are touched only
    // with `fetchLock` held.
    let source: Source
    private let settings: ReadSettings
    /// Held while a call takes from the buffer or fetches; a `Mutex`, whose uncontended
    /// lock and unlock are inlined atomics, since every message handed out takes it.
    private let fetchLock = Mutex(())
    private let buffer: FetchBuffer
    /// An error that came with the last fetch's messages: the next read reports it.
    private var deferredError: KafkaError?
    /// An error that ends every read (see ``FetchSource/isFinal(_:)``).
    private var stickyError: KafkaError?
    /// `async` reads waiting for a blocking read to release the fetch lock.
    private let lockWaiters = Waiters<Bool>()
    private let lockWaiterCount = Atomic<Int>(0)

    init(source: Source, capacity: Int, settings: ReadSettings) {
        self.source = source
        self.settings = settings
        self.buffer = FetchBuffer(capacity: capacity)
    }

    // MARK: - Blocking reads

    /// The next message: from the buffer, or else after one fetch.
    func next() throws -> Message {
        defer { wakeLockWaiters() }
        return try fetchLock.withLock { _ in
            try checkOpen()
            if buffer.isEmpty { try fill() }
            return buffer.takeNext()
        }
    }

    /// What the buffer holds, or else the messages of one fetch.
    func batch() throws -> [Message] {
        defer { wakeLockWaiters() }
        return try fetchLock.withLock { _ in
            try checkOpen()
            if buffer.isEmpty { try fill() }
            return buffer.takeAll()
        }
    }

    /// A buffered message first (one per call, already an owned copy), or else `body` over views
    /// of one fetch.
    func borrowing<R>(_ body: (BorrowedBatch) throws -> R) throws -> R {
        try locked { try borrowedFill(body) }
    }

    /// Runs `body` with the buffer under the fetch lock (a group member storing handed-out offsets).
    func withBuffer<R>(_ body: (FetchBuffer) throws -> R) throws -> R {
        try locked { try body(buffer) }
    }

    /// Like ``withBuffer(_:)``, unless another call holds the lock (then nil, without waiting).
    func withBufferIfAvailable<R>(_ body: (FetchBuffer) throws -> R) rethrows -> R? {
        var output: R?
        let ran: Bool? = try fetchLock.withLockIfAvailable { _ in
            output = try body(buffer)
            return true
        }
        if ran != nil { wakeLockWaiters() }
        return output
    }

    /// The next buffered message, or nil when the buffer is empty, the source closed, or another
    /// call holds the buffer. The `async` reads' fast path: no suspension, no executor hop.
    func takeBufferedWithoutWaiting() -> Message? {
        fetchLock.withLockIfAvailable { _ in buffer.isEmpty || source.isClosed ? nil : buffer.takeNext() } ?? nil
    }

    // MARK: - Async reads

    /// The `async` ``next()``: suspends, never blocks a thread; `CancellationError` when cancelled.
    nonisolated(nonsending) func next() async throws -> Message {
        if let message = takeBufferedWithoutWaiting() { return message }
        return try await fillWaiting { $0.takeNext() }
    }

    /// The `async` ``batch()``.
    nonisolated(nonsending) func batch() async throws -> [Message] {
        try await fillWaiting { $0.takeAll() }
    }

    // MARK: - The fetch loops

    /// Close is final: once closed, no call hands out what was already fetched.
    private func checkOpen() throws(KafkaError) {
        if source.isClosed { throw .closed }
    }

    /// The fetch lock for a blocking call with a result that may not be `Sendable`; `async` reads
    /// waiting for it are woken on release. The result leaves through a local: `Mutex.withLock`
    /// would demand a `sending` result. (Messages leave `withLock` directly: no extra copy.)
    private func locked<R>(_ body: () throws -> R) throws -> R {
        defer { wakeLockWaiters() }
        var output: R?
        try fetchLock.withLock { _ in output = try body() }
        guard let output else { throw KafkaError.closed }
        return output
    }

    private func wakeLockWaiters() {
        if lockWaiterCount.load(ordering: .sequentiallyConsistent) > 0 { lockWaiters.resumeAll(with: true) }
    }

    /// Feeds one fetch outcome to `machine`, keeping an error that came with messages for the
    /// next read and one that ends every read for good.
    private func step(_ outcome: PartitionQueue.FetchOutcome, _ machine: inout FetchMachine) throws -> FetchMachine.Next {
        switch outcome {
        case .messages(let deferred):
            deferredError = deferred
            return .deliver
        case .empty:
            return try machine.next(after: .nothing, caughtUp: source.isCaughtUp)
        case .failure(let error):
            if source.isFinal(error) {
                stickyError = error
                throw error
            }
            let next = try machine.next(after: .failure(error), caughtUp: source.isCaughtUp)
            source.logRetry(error, attempt: machine.failedAttempts)
            return next
        }
    }

    /// An error left for this read (a sticky one throws), or nil to fetch.
    private func pendingFailure() throws -> KafkaError? {
        if let stickyError { throw stickyError }
        defer { deferredError = nil }
        return deferredError
    }

    /// Refills the buffer by the machine's rules, blocking. With `fetchLock` held.
    private func fill() throws {
        try source.prepareFetch(buffer, borrowing: false)
        var machine = settings.machine
        while true {
            let outcome: PartitionQueue.FetchOutcome = if let error = try pendingFailure() {
                .failure(error)
            } else {
                try source.fetch(timeout: settings.window, into: buffer, readsHeaders: settings.readsHeaders)
            }
            switch try step(outcome, &machine) {
            case .deliver: return
            case .fetchAgain: try checkOpen()
            case .pause(let duration):
                settings.clock.sleep(for: duration)
                try machine.checkAfterPause(isClosed: source.isClosed)
            }
        }
    }

    /// ``borrowing(_:)`` with `fetchLock` held.
    private func borrowedFill<R>(_ body: (BorrowedBatch) throws -> R) throws -> R {
        try checkOpen()
        if !buffer.isEmpty { return try BorrowedBatch.borrowing(buffer.takeNext(), body) }
        try source.prepareFetch(buffer, borrowing: true)
        var machine = settings.machine
        while true {
            let outcome: PartitionQueue.BorrowedOutcome<R> = if let error = try pendingFailure() {
                .failure(error)
            } else {
                try source.fetchBorrowed(timeout: settings.window, body)
            }
            let next: FetchMachine.Next
            switch outcome {
            case .delivered(let result, let deferred):
                deferredError = deferred
                return result
            case .empty: next = try step(.empty, &machine)
            case .failure(let error): next = try step(.failure(error), &machine)
            }
            switch next {
            case .deliver, .fetchAgain: try checkOpen()
            case .pause(let duration):
                settings.clock.sleep(for: duration)
                try machine.checkAfterPause(isClosed: source.isClosed)
            }
        }
    }

    /// What one locked step of an `async` read found.
    private enum AsyncStep<Value> {
        case ready(Value)
        case waitForMessages
        case next(FetchMachine.Next)
        /// A blocking read holds the buffer.
        case busy
    }

    /// The `async` fill: non-blocking fetches under `fetchLock`, and suspensions (never holding
    /// the lock) until librdkafka signals the queue, the window passes, or a retry wait passes;
    /// then `take` hands out from the buffer. It runs on the caller's executor, as the blocking
    /// read does: fetched messages are then allocated on the thread that will free them (run on
    /// the global executor instead, a `for try await` loop on an actor made the two threads
    /// contend for malloc's arena lock, and hopped threads per fetch).
    nonisolated(nonsending) private func fillWaiting<Value>(_ take: (FetchBuffer) -> Value) async throws -> Value {
        var machine = settings.machine
        while true {
            try Task.checkCancellation()
            let step: AsyncStep<Value> = try fetchLock.withLockIfAvailable { _ throws -> AsyncStep<Value> in
                try checkOpen()
                if !buffer.isEmpty { return .ready(take(buffer)) }
                try source.prepareFetch(buffer, borrowing: false)
                let outcome: PartitionQueue.FetchOutcome = if let error = try pendingFailure() {
                    .failure(error)
                } else {
                    try source.fetch(timeout: .zero, into: buffer, readsHeaders: settings.readsHeaders)
                }
                if case .empty = outcome { return .waitForMessages }
                let next = try self.step(outcome, &machine)
                return next == .deliver ? .ready(take(buffer)) : .next(next)
            } ?? .busy
            switch step {
            case .ready(let value):
                return value
            case .busy:
                try await waitForLock()
            case .waitForMessages:
                let source = self.source
                if try await source.signal.wait(timeout: settings.window, hasMessages: source.hasMessages) { continue }
                // Nothing within the window: Go's empty fetch when the source is caught up.
                let next = try machine.next(after: .nothing, caughtUp: source.isCaughtUp)
                try await pause(next, &machine)
            case .next(let next):
                try await pause(next, &machine)
            }
        }
    }

    /// Sleeps an `async` read's retry wait and checks the machine after it.
    nonisolated(nonsending) private func pause(_ next: FetchMachine.Next, _ machine: inout FetchMachine) async throws {
        guard case .pause(let duration) = next else { return try checkOpen() }
        try await settings.clock.sleep(for: duration)
        try machine.checkAfterPause(isClosed: source.isClosed)
    }

    /// Suspends until a blocking read releases the fetch lock, the source closes, or the task is
    /// cancelled. The 50 ms deadline is a backstop only: every release wakes the waiters.
    nonisolated(nonsending) private func waitForLock() async throws {
        lockWaiterCount.add(1, ordering: .sequentiallyConsistent)
        defer { lockWaiterCount.subtract(1, ordering: .sequentiallyConsistent) }
        _ = try await lockWaiters.wait(timeout: .milliseconds(50), onTimeout: false) {
            source.isClosed || fetchLock.withLockIfAvailable { _ in true } != nil ? true : nil
        }
        try checkOpen()
    }
}
