#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Every retry wait of the library (dial, produce, consume, coordinator)
/// goes through a `RetryClock`, so tests can make retry counts run instantly
/// and deterministically. The default is ``SystemRetryClock``.
public protocol RetryClock: Sendable {
    /// Blocks the calling thread for `duration`.
    func sleep(for duration: Duration)
    /// Suspends the calling task for `duration` without blocking a thread.
    /// Throws `CancellationError` when the task is cancelled.
    func sleep(for duration: Duration) async throws
}

/// The real clock: blocking sleeps with `nanosleep`, async sleeps with `Task.sleep`.
public struct SystemRetryClock: RetryClock {
    /// Creates the system clock.
    public init() {}

    /// Blocks the calling thread for `duration`; non-positive durations return at once.
    public func sleep(for duration: Duration) {
        guard duration > .zero else { return }
        let (seconds, attoseconds) = duration.components
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR {
            request = remaining
        }
    }

    /// Suspends for `duration`; non-positive durations return at once.
    public func sleep(for duration: Duration) async throws {
        guard duration > .zero else { return }
        try await Task.sleep(for: duration)
    }
}

extension Duration {
    /// Whole milliseconds, rounded up, clamped to `Int32` for librdkafka properties and timeouts.
    var milliseconds: Int32 {
        let (seconds, attoseconds) = components
        // Saturates: a huge configured duration must become "very long", never an overflow trap.
        guard seconds < Int64(Int32.max) / 1000 + 1 else { return .max }
        guard seconds >= 0 else { return 0 }
        let millis = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: max(0, millis))
    }
}
