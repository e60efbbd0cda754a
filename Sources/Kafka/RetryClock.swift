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

    /// The longest sleep: longer durations (up to `Int128` attoseconds, which `Duration`
    /// arithmetic can reach) sleep this long, about 146 billion years, instead of trapping.
    public static let longestSleep: Duration = .seconds(Int64.max / 2)

    /// Blocks the calling thread for `duration`; non-positive durations return at once,
    /// longer than ``longestSleep`` sleep that long.
    public func sleep(for duration: Duration) {
        guard duration > .zero else { return }
        let (seconds, attoseconds) = min(duration, Self.longestSleep).components
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR {
            request = remaining
        }
    }

    /// Suspends for `duration`; non-positive durations return at once, longer than
    /// ``longestSleep`` suspend that long (`Task.sleep` traps past `Int64.max` seconds from now).
    public func sleep(for duration: Duration) async throws {
        guard duration > .zero else { return }
        try await Task.sleep(for: min(duration, Self.longestSleep))
    }
}

extension Duration {
    /// Whole milliseconds, rounded up, clamped to `Int32` for librdkafka properties and timeouts.
    var milliseconds: Int32 {
        // Saturates: a huge configured duration must become "very long", never an overflow trap.
        // Works on the Int128 attoseconds, since `components` traps past Int64.max seconds.
        let total = attoseconds
        guard total > 0 else { return 0 }
        let (millis, rest) = total.quotientAndRemainder(dividingBy: 1_000_000_000_000_000)
        return Int32(clamping: rest > 0 ? millis + 1 : millis)
    }
}
