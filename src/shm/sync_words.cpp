#include "shm/sync_words.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "mp/errors.hpp"
#include "sys/futex.hpp"
#include "sys/interrupt.hpp"
#include "sys/unique_fd.hpp"

namespace mp::shm {
namespace {

thread_local std::uint32_t t_tid = 0;

// In a forked child the forking thread has a new id; it is the only thread there.
void forget_tid_in_child() noexcept { t_tid = 0; }
[[maybe_unused]] const int g_atfork = ::pthread_atfork(nullptr, nullptr, forget_tid_in_child);

// Spins before sleeping: a holder on another core usually lets go within a microsecond,
// and a futex sleep and wake-up cost tens of microseconds.
constexpr int kSpins = 200;

void throw_if_interrupted() {
  if (const int signal = sys::InterruptWatch::take(); signal != 0) {
    throw Interrupted(signal, "a wait on a shared lock, semaphore, event or barrier");
  }
}

// Sleeps while `word` holds `expected`, at most until the deadline and at most one
// liveness slice. Returns false, without sleeping, once the deadline has passed.
bool sleep_on(std::atomic<std::uint32_t>& word, std::uint32_t expected, Deadline deadline) {
  const auto now = Clock::now();
  if (now >= deadline) {
    return false;
  }
  const auto left = deadline - now;
  sys::futex_wait(word, expected,
                  std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::min<Clock::duration>(left, kLivenessSlice)));
  throw_if_interrupted();
  return true;
}

}  // namespace

std::uint32_t current_tid() noexcept {
  if (t_tid == 0) {
    t_tid = static_cast<std::uint32_t>(::gettid());
  }
  return t_tid;
}

// A killed process stays a zombie until its parent reaps it, and the parent may be the
// very process waiting for its lock: a zombie counts as dead. /proc/<tid> answers for
// every thread, not only for process leaders.
bool thread_alive(std::uint32_t tid) noexcept {
  char path[32];
  std::snprintf(path, sizeof path, "/proc/%u/stat", tid);
  sys::UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT || errno == ESRCH) {
      return false;
    }
    return ::kill(static_cast<pid_t>(tid), 0) == 0 || errno != ESRCH;  // no /proc
  }
  char buf[512];
  const std::size_t n = sys::read_full(fd.get(), buf, sizeof buf - 1);
  buf[n] = '\0';
  const char* close = std::strrchr(buf, ')');  // the name may hold spaces and parentheses
  if (close == nullptr || close[1] == '\0' || close[2] == '\0') {
    return true;
  }
  const char state = close[2];
  return state != 'Z' && state != 'X' && state != 'x';
}

LockResult LockWord::lock_slow(Deadline deadline) {
  for (int i = 0; i < kSpins; ++i) {
    sys::cpu_relax();
    if (state.load(std::memory_order_relaxed) == 0 && try_lock()) {
      return LockResult::acquired;
    }
  }
  const std::uint32_t me = current_tid();
  sys::InterruptWatch watch;
  std::uint32_t watched_owner = 0;
  Clock::time_point watched_since{};
  for (;;) {
    std::uint32_t v = state.load(std::memory_order_relaxed);
    if (v == 0) {
      // Others may sleep too: keep the flag so that the next unlock wakes one of them.
      if (state.compare_exchange_strong(v, me | kWaiters, std::memory_order_acquire,
                                        std::memory_order_relaxed)) {
        return LockResult::acquired;
      }
      continue;
    }
    if ((v & kWaiters) == 0) {
      if (!state.compare_exchange_strong(v, v | kWaiters, std::memory_order_relaxed)) {
        continue;
      }
      v |= kWaiters;
    }
    const std::uint32_t owner = v & kTidMask;
    const auto now = Clock::now();
    if (owner != watched_owner) {
      watched_owner = owner;
      watched_since = now;
    } else if (now - watched_since >= kLivenessSlice) {
      if (!thread_alive(owner)) {
        if (state.compare_exchange_strong(v, me | kWaiters, std::memory_order_acquire,
                                          std::memory_order_relaxed)) {
          return LockResult::owner_died;
        }
        continue;
      }
      watched_since = now;
    }
    if (!sleep_on(state, v, deadline)) {
      return LockResult::timed_out;
    }
  }
}

void LockWord::wake_one() noexcept { sys::futex_wake(state, 1); }

bool SemaphoreWord::release(std::uint32_t n, std::uint32_t bound) noexcept {
  std::uint32_t c = count.load(std::memory_order_relaxed);
  do {
    if (c > bound || n > bound - c) {
      return false;
    }
  } while (
      !count.compare_exchange_weak(c, c + n, std::memory_order_release, std::memory_order_relaxed));
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (sleepers.load(std::memory_order_relaxed) != 0) {
    sys::futex_wake(count, static_cast<int>(std::min<std::uint32_t>(n, 0x7fffffff)));
  }
  return true;
}

bool SemaphoreWord::acquire_slow(Deadline deadline) {
  for (int i = 0; i < kSpins; ++i) {
    sys::cpu_relax();
    if (count.load(std::memory_order_relaxed) != 0 && try_acquire()) {
      return true;
    }
  }
  sys::InterruptWatch watch;
  for (;;) {
    sleepers.fetch_add(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with release()'s fence
    bool in_time = true;
    try {
      if (!try_acquire()) {
        in_time = sleep_on(count, 0, deadline);
      } else {
        sleepers.fetch_sub(1, std::memory_order_relaxed);
        return true;
      }
    } catch (...) {
      sleepers.fetch_sub(1, std::memory_order_relaxed);
      throw;
    }
    sleepers.fetch_sub(1, std::memory_order_relaxed);
    if (try_acquire()) {
      return true;
    }
    if (!in_time) {
      return false;
    }
  }
}

void EventWord::set() noexcept {
  if (flag.exchange(1, std::memory_order_release) == 0) {
    sys::futex_wake_all(flag);
  }
}

bool EventWord::wait(Deadline deadline) {
  if (is_set()) {
    return true;
  }
  sys::InterruptWatch watch;
  while (!is_set()) {
    if (!sleep_on(flag, 0, deadline)) {
      return is_set();
    }
  }
  return true;
}

bool ConditionWord::wait(std::uint32_t seen, Deadline deadline) {
  sys::InterruptWatch watch;
  while (sequence.load(std::memory_order_acquire) == seen) {
    const auto now = Clock::now();
    if (now >= deadline) {
      return false;
    }
    sys::futex_wait(sequence, seen,
                    deadline == Deadline::max()
                        ? std::chrono::nanoseconds(-1)
                        : std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - now));
    throw_if_interrupted();
  }
  return true;
}

void ConditionWord::notify(int n) noexcept {
  if (waiters.load(std::memory_order_relaxed) == 0) {
    return;
  }
  sequence.fetch_add(1, std::memory_order_release);
  if (n < 0) {
    sys::futex_wake_all(sequence);
  } else {
    sys::futex_wake(sequence, n);
  }
}

namespace {

// Holds a barrier's lock; a previous holder that died left nothing half-done (every
// update under it is a single store), so its death is not reported.
class BarrierGuard {
 public:
  explicit BarrierGuard(BarrierWord& b) : b_(b) { b_.lock.lock(Deadline::max()); }
  ~BarrierGuard() { b_.lock.unlock(); }
  BarrierGuard(const BarrierGuard&) = delete;
  BarrierGuard& operator=(const BarrierGuard&) = delete;

 private:
  BarrierWord& b_;
};

// Under the barrier's lock.
void break_barrier(BarrierWord& b) noexcept {
  const std::uint32_t gen = b.generation.load(std::memory_order_relaxed);
  b.arrived.store(0, std::memory_order_relaxed);
  b.broken.store(1, std::memory_order_relaxed);
  b.broke_generation.store(gen + 1, std::memory_order_relaxed);
  b.generation.store(gen + 1, std::memory_order_release);
  sys::futex_wake_all(b.generation);
}

// Records that `tid` arrived in generation `gen` (learning of it on its first wait, in a
// free slot or one whose thread is gone).
void note_arrival(BarrierWord& b, std::uint32_t tid, std::uint32_t gen) {
  ParticipantSlot* slots = b.slots();
  for (std::uint32_t i = 0; i < b.parties; ++i) {
    if (slots[i].tid == tid) {
      slots[i].arrived_in = gen + 1;
      return;
    }
  }
  for (std::uint32_t i = 0; i < b.parties; ++i) {
    if (slots[i].tid == 0 || !thread_alive(slots[i].tid)) {
      slots[i] = ParticipantSlot{tid, gen + 1};
      return;
    }
  }
}

// True if a participant the barrier knows has died without arriving in generation `gen`.
bool participant_lost(BarrierWord& b, std::uint32_t gen) {
  const ParticipantSlot* slots = b.slots();
  for (std::uint32_t i = 0; i < b.parties; ++i) {
    if (slots[i].tid != 0 && slots[i].arrived_in != gen + 1 && !thread_alive(slots[i].tid)) {
      return true;
    }
  }
  return false;
}

}  // namespace

BarrierResult barrier_wait(BarrierWord& b, Deadline deadline, std::uint32_t& index) {
  std::uint32_t gen = 0;
  {
    BarrierGuard guard(b);
    if (b.broken.load(std::memory_order_relaxed) != 0) {
      return BarrierResult::broken;
    }
    gen = b.generation.load(std::memory_order_relaxed);
    note_arrival(b, current_tid(), gen);
    index = b.arrived.fetch_add(1, std::memory_order_relaxed);
    if (index + 1 == b.parties) {
      b.arrived.store(0, std::memory_order_relaxed);
      b.generation.store(gen + 1, std::memory_order_release);
      sys::futex_wake_all(b.generation);
      return BarrierResult::passed;
    }
  }
  sys::InterruptWatch watch;
  for (;;) {
    if (b.generation.load(std::memory_order_acquire) != gen) {
      return b.broke_generation.load(std::memory_order_relaxed) == gen + 1 ? BarrierResult::broken
                                                                           : BarrierResult::passed;
    }
    bool in_time = true;
    try {
      in_time = sleep_on(b.generation, gen, deadline);
    } catch (...) {
      barrier_abort(b);  // the others would wait for this thread forever
      throw;
    }
    if (b.generation.load(std::memory_order_acquire) != gen) {
      continue;
    }
    BarrierGuard guard(b);
    if (b.generation.load(std::memory_order_relaxed) != gen) {
      continue;
    }
    if (!in_time) {
      break_barrier(b);
      return BarrierResult::timed_out;
    }
    if (participant_lost(b, gen)) {
      break_barrier(b);
      return BarrierResult::broken;
    }
  }
}

void barrier_abort(BarrierWord& b) {
  BarrierGuard guard(b);
  break_barrier(b);
}

void barrier_reset(BarrierWord& b) {
  BarrierGuard guard(b);
  if (b.arrived.load(std::memory_order_relaxed) != 0) {
    break_barrier(b);  // the current waiters fail, as Python's reset() does
  }
  b.broken.store(0, std::memory_order_release);
}

}  // namespace mp::shm
