import Kafka
import Synchronization

/// A `RetryClock` whose sleeps return at once and are recorded, so tests
/// of retry counts and waits run instantly and deterministically. Give it to
/// `BrokerConf.clock` (or a mock's conf) and read ``sleeps`` afterwards.
public final class VirtualClock: RetryClock {
    private let recorded = Mutex<[Duration]>([])

    /// Creates a clock with no recorded sleeps.
    public init() {}

    /// Every sleep requested so far, in order.
    public var sleeps: [Duration] { recorded.withLock { $0 } }

    /// The virtual time that has passed: the sum of every sleep. The sum saturates at the
    /// largest (or smallest) `Duration`, `Int128` attoseconds, instead of overflowing, so a
    /// clock given huge sleeps (`.seconds(Int64.max)` many times) reports "very long", never traps.
    public var elapsed: Duration {
        recorded.withLock { sleeps in
            var total: Int128 = 0
            for sleep in sleeps {
                let (sum, overflow) = total.addingReportingOverflow(sleep.attoseconds)
                total = overflow ? (sleep.attoseconds > 0 ? .max : .min) : sum
            }
            return Duration(attoseconds: total)
        }
    }

    /// How many sleeps of exactly `duration` were requested.
    public func count(of duration: Duration) -> Int {
        recorded.withLock { $0.filter { $0 == duration }.count }
    }

    /// Forgets the recorded sleeps.
    public func reset() { recorded.withLock { $0.removeAll() } }

    /// Records `duration` and returns at once.
    public func sleep(for duration: Duration) {
        recorded.withLock { $0.append(duration) }
    }

    /// Records `duration` and returns at once (after a yield, so other tasks run).
    public func sleep(for duration: Duration) async throws {
        recorded.withLock { $0.append(duration) }
        await Task.yield()
    }
}
