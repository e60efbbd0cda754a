/*
 * Makes Synchronization.Mutex visible to ThreadSanitizer on Linux, for
 * `make sanitize-thread` only (linked into the TSan test binary with
 * -Xlinker; never part of a normal build).
 *
 * Mutex.withLock is @_transparent: its fast paths are inlined into our code
 * and are atomics TSan sees (lock: compare-exchange 0 -> tid, acquiring;
 * unlock: tid -> 0, releasing, both on the mutex word). When the mutex is
 * contended the inlined code instead calls two functions of the
 * (uninstrumented) libswiftSynchronization.so: _lockSlow spins with plain
 * cmpxchg and then sleeps in FUTEX_LOCK_PI, and _unlockSlow hands the lock
 * over with FUTEX_UNLOCK_PI. TSan sees neither, so the hand-over between two
 * threads carries no happens-before edge and every access made under
 * withLock by the two threads is reported as a race.
 *
 * These definitions interpose on those two functions (and _tryLockSlow):
 * they call the real ones (found with dlsym(RTLD_NEXT)) and add
 * __tsan_release on the mutex word before a slow unlock and __tsan_acquire
 * after a slow lock: the same edge the fast paths already give. Nothing is
 * suppressed: an access outside withLock, or under another mutex, is still
 * reported.
 *
 * The names are the mangled Swift symbols of Synchronization._MutexHandle in
 * the Swift 6 toolchains (checked with 6.3.1); `self` (the mutex word's
 * address) is passed in the Swift self register (swift_context), the thread
 * id in the first argument. If a toolchain renames them, the constructor
 * below stops the test binary with a message instead of silently doing
 * nothing.
 */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

void __tsan_acquire(void *addr);
void __tsan_release(void *addr);

#define SWIFTCALL __attribute__((swiftcall))
#define SWIFT_SELF __attribute__((swift_context))

#define LOCK_SLOW "$s15Synchronization12_MutexHandleV9_lockSlowyys6UInt32VF"
#define TRYLOCK_SLOW "$s15Synchronization12_MutexHandleV12_tryLockSlowSbyF"
#define UNLOCK_SLOW "$s15Synchronization12_MutexHandleV11_unlockSlowyyF"

typedef SWIFTCALL void (*lock_slow_fn)(uint32_t thread_id, void *SWIFT_SELF word);
typedef SWIFTCALL bool (*trylock_slow_fn)(void *SWIFT_SELF word);
typedef SWIFTCALL void (*unlock_slow_fn)(void *SWIFT_SELF word);

static lock_slow_fn real_lock_slow;
static trylock_slow_fn real_trylock_slow;
static unlock_slow_fn real_unlock_slow;

static void *find(const char *name) {
  void *function = dlsym(RTLD_NEXT, name);
  if (!function) {
    fprintf(stderr,
            "tsan-mutex-hb: %s not found in libswiftSynchronization (%s); this toolchain's "
            "Mutex needs a new scripts/tsan-mutex-hb.c\n",
            name, dlerror());
    abort();
  }
  return function;
}

/* Runs before main (after TSan's own initialisation, which is a preinit). */
__attribute__((constructor)) static void resolve(void) {
  __atomic_store_n(&real_lock_slow, (lock_slow_fn)find(LOCK_SLOW), __ATOMIC_RELAXED);
  __atomic_store_n(&real_trylock_slow, (trylock_slow_fn)find(TRYLOCK_SLOW), __ATOMIC_RELAXED);
  __atomic_store_n(&real_unlock_slow, (unlock_slow_fn)find(UNLOCK_SLOW), __ATOMIC_RELAXED);
}

SWIFTCALL void mutex_lock_slow(uint32_t thread_id, void *SWIFT_SELF word) __asm__(LOCK_SLOW);
SWIFTCALL void mutex_lock_slow(uint32_t thread_id, void *SWIFT_SELF word) {
  lock_slow_fn real = __atomic_load_n(&real_lock_slow, __ATOMIC_RELAXED);
  if (!real) real = (lock_slow_fn)find(LOCK_SLOW);
  real(thread_id, word);
  __tsan_acquire(word);
}

SWIFTCALL bool mutex_trylock_slow(void *SWIFT_SELF word) __asm__(TRYLOCK_SLOW);
SWIFTCALL bool mutex_trylock_slow(void *SWIFT_SELF word) {
  trylock_slow_fn real = __atomic_load_n(&real_trylock_slow, __ATOMIC_RELAXED);
  if (!real) real = (trylock_slow_fn)find(TRYLOCK_SLOW);
  bool locked = real(word);
  if (locked) __tsan_acquire(word);
  return locked;
}

SWIFTCALL void mutex_unlock_slow(void *SWIFT_SELF word) __asm__(UNLOCK_SLOW);
SWIFTCALL void mutex_unlock_slow(void *SWIFT_SELF word) {
  unlock_slow_fn real = __atomic_load_n(&real_unlock_slow, __ATOMIC_RELAXED);
  if (!real) real = (unlock_slow_fn)find(UNLOCK_SLOW);
  __tsan_release(word);
  real(word);
}
