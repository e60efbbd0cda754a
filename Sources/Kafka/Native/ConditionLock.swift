#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A mutex with a condition variable, for the few places where a thread must
/// block until another thread changes shared state (a delivery arrives, a
/// handle's last user leaves). Never held across a call into librdkafka that
/// can block.
final class ConditionLock: @unchecked Sendable {
    // Safe: the pthread objects are only touched through pthread calls, which synchronise themselves.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        // Timed waits measure on the monotonic clock, so a step of the wall clock cannot stretch them.
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
    /// Takes the mutex if it is free; returns false at once otherwise.
    func tryLock() -> Bool { pthread_mutex_trylock(mutex) == 0 }

    /// Runs `body` with the mutex held.
    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        lock()
        defer { unlock() }
        return try body()
    }

    /// Wakes every thread waiting in ``wait(until:)``. Call with the mutex held.
    func broadcast() { pthread_cond_broadcast(condition) }

    /// Blocks until `done()` holds; the mutex must be held and is held again on return.
    func wait(until done: () -> Bool) {
        while !done() { pthread_cond_wait(condition, mutex) }
    }

    /// Blocks until `done()` holds or `milliseconds` passed; the mutex must be held and is held
    /// again on return. Returns `done()`.
    @discardableResult
    func wait(milliseconds: Int, until done: () -> Bool) -> Bool {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let nanoseconds = Int(deadline.tv_nsec) + (milliseconds % 1000) * 1_000_000
        deadline.tv_sec += milliseconds / 1000 + nanoseconds / 1_000_000_000
        deadline.tv_nsec = nanoseconds % 1_000_000_000
        while !done() {
            if pthread_cond_timedwait(condition, mutex, &deadline) != 0 { return done() }
        }
        return true
    }
}
