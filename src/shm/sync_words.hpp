// Locks, semaphores, events and barriers on futex words in memory shared between
// processes. Each is a plain struct placed in a shared block (zero bytes are a valid
// initial state where the comment says so); the public classes in include/mp/sync.hpp
// own the blocks.
//
// Owner death. POSIX semaphores, which Python's locks are, have no owner: a holder that
// dies leaves the lock held and every later acquirer hangs. A LockWord holds its owner's
// thread id instead, so a waiter that has slept kLivenessSlice without progress asks the
// kernel whether that thread still exists and, if not, takes the lock over and is told
// so (LockResult::owner_died). The kernel's robust-futex list would notice at once, but
// it belongs to the C library's own mutexes; and a pthread robust mutex could not be
// released by another thread, which Python's Lock allows. A thread id reused by a new
// thread before the waiter looks keeps the lock held until that thread ends (thread ids
// are reused only after the kernel has handed out the rest of its pid range).
//
// Blocking calls wait at most until their deadline (time_point::max(): no limit) and
// throw mp::Interrupted when SIGINT or SIGTERM, left at the default action, arrives.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace mp::shm {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

// How long a waiter sleeps before it checks that the thread it waits for still lives.
inline constexpr std::chrono::milliseconds kLivenessSlice{20};

// The calling thread's id, as the kernel knows it (cached; right after fork too).
std::uint32_t current_tid() noexcept;
// False once thread `tid` has ended (its process exited or was killed).
bool thread_alive(std::uint32_t tid) noexcept;

enum class LockResult { acquired, owner_died, timed_out };

// A mutual-exclusion lock any thread of any process may release. Zero: unlocked.
struct LockWord {
  // The owner's thread id, or 0; kWaiters is set while a thread may sleep on it.
  std::atomic<std::uint32_t> state{0};

  static constexpr std::uint32_t kWaiters = 0x80000000u;
  static constexpr std::uint32_t kTidMask = 0x3fffffffu;

  bool try_lock() noexcept {
    std::uint32_t expected = 0;
    return state.compare_exchange_strong(expected, current_tid(), std::memory_order_acquire,
                                         std::memory_order_relaxed);
  }
  LockResult lock(Deadline deadline) {
    return try_lock() ? LockResult::acquired : lock_slow(deadline);
  }
  // Returns false if it was not locked.
  bool unlock() noexcept {
    const std::uint32_t old = state.exchange(0, std::memory_order_release);
    if ((old & kWaiters) != 0) {
      wake_one();
    }
    return old != 0;
  }
  std::uint32_t owner() const noexcept { return state.load(std::memory_order_relaxed) & kTidMask; }

 private:
  LockResult lock_slow(Deadline deadline);
  void wake_one() noexcept;
};

// A counting semaphore. Zero bytes: a count of zero.
struct SemaphoreWord {
  std::atomic<std::uint32_t> count{0};
  std::atomic<std::uint32_t> sleepers{0};

  bool try_acquire() noexcept {
    std::uint32_t c = count.load(std::memory_order_relaxed);
    while (c != 0) {
      if (count.compare_exchange_weak(c, c - 1, std::memory_order_acquire,
                                      std::memory_order_relaxed)) {
        return true;
      }
    }
    return false;
  }
  // False on timeout.
  bool acquire(Deadline deadline) { return try_acquire() || acquire_slow(deadline); }
  // Adds `n`; returns false, changing nothing, if the count would pass `bound`.
  bool release(std::uint32_t n, std::uint32_t bound) noexcept;

 private:
  bool acquire_slow(Deadline deadline);
};

// A flag threads wait to see set. Zero bytes: clear.
struct EventWord {
  std::atomic<std::uint32_t> flag{0};

  bool is_set() const noexcept { return flag.load(std::memory_order_acquire) != 0; }
  void set() noexcept;
  void clear() noexcept { flag.store(0, std::memory_order_release); }
  // The flag when it returns: false only on timeout.
  bool wait(Deadline deadline);
};

// A condition variable's word: notify advances the sequence and wakes sleepers on it.
// Zero bytes: no waiter. Used under the condition's lock, except the sleep itself.
struct ConditionWord {
  std::atomic<std::uint32_t> sequence{0};
  std::atomic<std::uint32_t> waiters{0};

  // Before the waiter lets its lock go: the sequence its wait compares against.
  std::uint32_t enter() noexcept {
    waiters.fetch_add(1, std::memory_order_relaxed);
    return sequence.load(std::memory_order_acquire);
  }
  // Sleeps until a notify after `seen`, or the deadline (false then). The sleep has no
  // slice: only a notify, a signal or the deadline ends it, so notify(n) wakes n sleepers.
  bool wait(std::uint32_t seen, Deadline deadline);
  // After the waiter holds its lock again.
  void leave() noexcept { waiters.fetch_sub(1, std::memory_order_relaxed); }
  // Wakes up to `n` waiters (all if n is negative).
  void notify(int n) noexcept;
};

// A barrier for `parties` threads, followed in its block by `parties` ParticipantSlots.
// A participant is known from its first wait on: if a known participant dies before
// arriving, the waiters break the barrier instead of waiting for it.
struct ParticipantSlot {
  std::uint32_t tid;
  std::uint32_t arrived_in;  // generation + 1 of its last arrival; 0: none
};
struct BarrierWord {
  LockWord lock;
  std::atomic<std::uint32_t> generation{0};        // waiters sleep on it
  std::atomic<std::uint32_t> broken{0};            // waits fail until reset
  std::atomic<std::uint32_t> broke_generation{0};  // generation + 1 of the last break
  std::uint32_t parties = 0;
  std::atomic<std::uint32_t> arrived{0};  // changed under the lock

  ParticipantSlot* slots() noexcept { return reinterpret_cast<ParticipantSlot*>(this + 1); }
};
enum class BarrierResult { passed, broken, timed_out };
// Arrives and waits for the others; `index` gets the arrival index (0 .. parties - 1).
// A timeout breaks the barrier for everyone, as in Python.
BarrierResult barrier_wait(BarrierWord& b, Deadline deadline, std::uint32_t& index);
// Breaks the barrier: current and later waits fail until barrier_reset().
void barrier_abort(BarrierWord& b);
void barrier_reset(BarrierWord& b);

}  // namespace mp::shm
