/// Go's retry rules for one consume call: after `retryLimit + 1` empty fetches the call
/// ends with ``KafkaError/noData`` (never with `retryLimit` -1), after `retryErrLimit`
/// failed fetches with the last error; `retryWait` and `retryErrWait` between them.
struct FetchRetries {
    private let retryLimit: Int
    private let retryErrLimit: Int
    private let retryWait: Duration
    private let retryErrWait: Duration
    private(set) var emptyFetches = 0
    private(set) var failedAttempts = 0

    init(_ conf: ConsumerConf) {
        retryLimit = conf.retryLimit
        retryErrLimit = conf.retryErrLimit
        retryWait = conf.retryWait
        retryErrWait = conf.retryErrWait
    }

    init(_ conf: GroupConsumerConf) {
        retryLimit = conf.retryLimit
        retryErrLimit = conf.retryErrLimit
        retryWait = conf.retryWait
        retryErrWait = conf.retryErrWait
    }

    /// Counts an empty fetch; returns the wait before the next one.
    mutating func recordEmpty() -> Duration {
        emptyFetches += 1
        return retryWait
    }

    /// Counts a failed fetch; returns the wait before the next one, or throws `error` when
    /// it was the last attempt allowed.
    mutating func recordFailure(_ error: KafkaError) throws -> Duration {
        failedAttempts += 1
        if failedAttempts >= retryErrLimit { throw error }
        return retryErrWait
    }

    /// Throws ``KafkaError/noData`` once the empty fetches exceed `retryLimit`; checked after the wait.
    func checkLimit() throws {
        if retryLimit != -1 && emptyFetches > retryLimit { throw KafkaError.noData }
    }
}

/// What comes after a fetch that handed out nothing: an immediate new fetch (the wait was not an
/// empty fetch in Go's sense: the partition's data is on its way), or a counted retry wait.
enum FetchPause {
    case refetch
    case sleep(Duration)

    /// Sleeps through `clock` for a retry wait; returns at once for a refetch.
    func apply(_ clock: any RetryClock) {
        if case .sleep(let duration) = self { clock.sleep(for: duration) }
    }

    /// The `async` twin of ``apply(_:)``.
    func apply(_ clock: any RetryClock) async throws {
        if case .sleep(let duration) = self { try await clock.sleep(for: duration) }
    }
}
