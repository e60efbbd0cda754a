/// Go's retry rules for one read call of a consumer, as one state machine: every read, blocking,
/// `async` or borrowing, of ``BrokerConsumer`` and ``GroupConsumer`` feeds it what each fetch
/// brought and does what it answers, so the rules live here alone.
///
/// After `retryLimit + 1` empty fetches the call ends with `KafkaError.noData` (never with
/// `retryLimit` -1); after `retryErrLimit` failed fetches with the last error; `retryWait` and
/// `retryErrWait` between them. An empty fetch is Go's: a wait that brought nothing while the
/// source had nothing unread (see ``FetchSource/isCaughtUp()``). A wait that brought nothing
/// while data is known to be on its way is no empty fetch: the next fetch starts at once.
struct FetchMachine {
    /// What a fetch brought, as far as the rules care.
    enum Fetched {
        /// At least one message was handed over.
        case messages
        /// The wait for the first message ended with none.
        case nothing
        /// Only an error came.
        case failure(KafkaError)
    }

    /// What the read does next.
    enum Next: Equatable {
        /// Hand out what was fetched: the call ends.
        case deliver
        /// Fetch again at once.
        case fetchAgain
        /// Wait this long (through the consumer's ``RetryClock``), then ``checkAfterPause(isClosed:)``.
        case pause(Duration)
    }

    private let retryLimit: Int
    private let retryErrLimit: Int
    private let retryWait: Duration
    private let retryErrWait: Duration
    private(set) var emptyFetches = 0
    private(set) var failedAttempts = 0

    init(retryLimit: Int, retryErrLimit: Int, retryWait: Duration, retryErrWait: Duration) {
        self.retryLimit = retryLimit
        self.retryErrLimit = retryErrLimit
        self.retryWait = retryWait
        self.retryErrWait = retryErrWait
    }

    /// The next step after a fetch.
    /// - Parameter caughtUp: asked only after a fetch that brought nothing: whether it counts as
    ///   Go's empty fetch.
    /// - Throws: `error` of a failure when it used up `retryErrLimit`.
    mutating func next(after fetched: Fetched, caughtUp: () -> Bool) throws(KafkaError) -> Next {
        switch fetched {
        case .messages:
            return .deliver
        case .nothing:
            guard caughtUp() else { return .fetchAgain }
            emptyFetches += 1
            return .pause(retryWait)
        case .failure(let error):
            failedAttempts += 1
            if failedAttempts >= retryErrLimit { throw error }
            return .pause(retryErrWait)
        }
    }

    /// After a pause: `KafkaError.closed` once the source closed, `KafkaError.noData` once the
    /// empty fetches exceed `retryLimit`.
    func checkAfterPause(isClosed: Bool) throws(KafkaError) {
        if isClosed { throw .closed }
        if retryLimit != -1 && emptyFetches > retryLimit { throw .noData }
    }
}

extension FetchMachine {
    /// A machine with a partition consumer's rules.
    init(_ conf: ConsumerConf) {
        self.init(retryLimit: conf.retryLimit, retryErrLimit: conf.retryErrLimit, retryWait: conf.retryWait, retryErrWait: conf.retryErrWait)
    }

    /// A machine with a group member's rules.
    init(_ conf: GroupConsumerConf) {
        self.init(retryLimit: conf.retryLimit, retryErrLimit: conf.retryErrLimit, retryWait: conf.retryWait, retryErrWait: conf.retryErrWait)
    }
}
