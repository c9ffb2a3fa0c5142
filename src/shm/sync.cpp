// The public locks, semaphores, events and barriers: each a shared block holding one of
// the words of shm/sync_words.hpp.
#include "mp/sync.hpp"

#include <limits>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

#include "mp/errors.hpp"
#include "shm/sync_words.hpp"

namespace mp {
namespace {

[[noreturn]] void throw_empty_handle() {
  throw std::logic_error(
      "mp: this lock, semaphore, event or barrier is an empty handle (moved from, or a "
      "default-constructed Barrier)");
}

template <class Word>
Word& word_in(const detail::SharedBlock& block) {
  if (!block) [[unlikely]] {
    throw_empty_handle();
  }
  return *std::launder(reinterpret_cast<Word*>(block.data()));
}

template <class Word>
detail::SharedBlock make_block(const char* what, std::size_t extra = 0) {
  detail::SharedBlock block = detail::SharedBlock::create(sizeof(Word) + extra, what);
  new (block.data()) Word();
  return block;
}

// Returns true if acquired; throws OwnerDied (acquired) if the holder died.
bool report(shm::LockResult r) {
  switch (r) {
    case shm::LockResult::acquired:
      return true;
    case shm::LockResult::owner_died:
      throw OwnerDied(
          "mp: the lock's holder died holding it; this thread holds it now, and the data it "
          "guards may be half-updated");
    case shm::LockResult::timed_out:
      break;
  }
  return false;
}

struct RLockWord {
  shm::LockWord lock;
  std::uint32_t depth = 0;  // touched by the owner only
};

struct SemaphoreBlock {
  shm::SemaphoreWord sem;
  std::uint32_t bound = 0;
};

}  // namespace

// ---------------------------------------------------------------------------------------
// Lock

Lock::Lock() : block_(make_block<shm::LockWord>("mp-lock")) {}

bool Lock::acquire_until(detail::SteadyClock::time_point deadline) {
  return report(word_in<shm::LockWord>(block_).lock(deadline));
}

bool Lock::try_acquire() { return word_in<shm::LockWord>(block_).try_lock(); }

void Lock::release() {
  if (!word_in<shm::LockWord>(block_).unlock()) {
    throw std::logic_error("mp: Lock::release of a lock that is not locked");
  }
}

bool Lock::locked() const { return word_in<shm::LockWord>(block_).owner() != 0; }

// ---------------------------------------------------------------------------------------
// RLock

RLock::RLock() : block_(make_block<RLockWord>("mp-rlock")) {}

bool RLock::acquire_until(detail::SteadyClock::time_point deadline) {
  RLockWord& w = word_in<RLockWord>(block_);
  if (w.lock.owner() == shm::current_tid()) {
    ++w.depth;
    return true;
  }
  const shm::LockResult r = w.lock.lock(deadline);
  if (r != shm::LockResult::timed_out) {
    w.depth = 1;
  }
  return report(r);
}

bool RLock::try_acquire() {
  RLockWord& w = word_in<RLockWord>(block_);
  if (w.lock.owner() == shm::current_tid()) {
    ++w.depth;
    return true;
  }
  if (!w.lock.try_lock()) {
    return false;
  }
  w.depth = 1;
  return true;
}

void RLock::release() {
  RLockWord& w = word_in<RLockWord>(block_);
  if (w.lock.owner() != shm::current_tid()) {
    throw std::logic_error("mp: RLock::release by a thread that does not hold it");
  }
  if (--w.depth == 0) {
    w.lock.unlock();
  }
}

bool RLock::owned() const { return word_in<RLockWord>(block_).lock.owner() == shm::current_tid(); }

std::uint32_t RLock::release_all() {
  RLockWord& w = word_in<RLockWord>(block_);
  const std::uint32_t depth = std::exchange(w.depth, 0);
  w.lock.unlock();
  return depth;
}

void RLock::acquire_restore(std::uint32_t depth) {
  RLockWord& w = word_in<RLockWord>(block_);
  const shm::LockResult r = w.lock.lock(detail::SteadyClock::time_point::max());
  w.depth = depth;
  report(r);
}

// ---------------------------------------------------------------------------------------
// Condition

Condition::Condition() : Condition(RLock()) {}

Condition::Condition(Lock lock)
    : block_(make_block<shm::ConditionWord>("mp-condition")),
      reentrant_(false),
      lock_(std::move(lock)) {}

Condition::Condition(RLock lock)
    : block_(make_block<shm::ConditionWord>("mp-condition")),
      reentrant_(true),
      rlock_(std::move(lock)) {}

bool Condition::acquire_until(detail::SteadyClock::time_point deadline) {
  return reentrant_ ? rlock_.acquire_until(deadline) : lock_.acquire_until(deadline);
}
bool Condition::try_acquire() { return reentrant_ ? rlock_.try_acquire() : lock_.try_acquire(); }
void Condition::release() { reentrant_ ? rlock_.release() : lock_.release(); }

// A Lock has no owner to ask: held by anyone counts, as in Python.
void Condition::check_owned(const char* call) const {
  if (!(reentrant_ ? rlock_.owned() : lock_.locked())) {
    throw std::logic_error(std::string("mp: Condition::") + call +
                           " without holding the condition's lock");
  }
}

bool Condition::wait_until(detail::SteadyClock::time_point deadline) {
  check_owned("wait");
  shm::ConditionWord& w = word_in<shm::ConditionWord>(block_);
  const std::uint32_t seen = w.enter();
  std::uint32_t depth = 0;
  if (reentrant_) {
    depth = rlock_.release_all();
  } else {
    lock_.release();
  }
  bool notified = false;
  try {
    notified = w.wait(seen, deadline);
  } catch (...) {
    // Interrupted: the caller's scope still expects the lock held (a lock_guard releases
    // it), and the interruption is what it must hear of.
    try {
      reentrant_ ? rlock_.acquire_restore(depth) : lock_.acquire();
    } catch (const OwnerDied&) {
    }
    w.leave();
    throw;
  }
  // The lock is held again before anything is thrown (OwnerDied: its holder died).
  struct Leave {
    shm::ConditionWord& w;
    ~Leave() { w.leave(); }
  } leave{w};
  if (reentrant_) {
    rlock_.acquire_restore(depth);
  } else {
    lock_.acquire();
  }
  return notified;
}

void Condition::notify(int n) {
  check_owned("notify");
  if (n > 0) {
    word_in<shm::ConditionWord>(block_).notify(n);
  }
}

void Condition::notify_all() {
  check_owned("notify_all");
  word_in<shm::ConditionWord>(block_).notify(-1);
}

// ---------------------------------------------------------------------------------------
// Semaphore

Semaphore::Semaphore(int value) : Semaphore(value, false) {}

Semaphore::Semaphore(int value, bool bounded) {
  if (value < 0) {
    throw std::invalid_argument("mp: a semaphore's initial value must be >= 0, not " +
                                std::to_string(value));
  }
  block_ = make_block<SemaphoreBlock>(bounded ? "mp-bounded-semaphore" : "mp-semaphore");
  SemaphoreBlock& s = word_in<SemaphoreBlock>(block_);
  s.sem.count.store(static_cast<std::uint32_t>(value), std::memory_order_relaxed);
  s.bound = bounded ? static_cast<std::uint32_t>(value)
                    : static_cast<std::uint32_t>(std::numeric_limits<int>::max());
}

bool Semaphore::acquire_until(detail::SteadyClock::time_point deadline) {
  return word_in<SemaphoreBlock>(block_).sem.acquire(deadline);
}

bool Semaphore::try_acquire() { return word_in<SemaphoreBlock>(block_).sem.try_acquire(); }

void Semaphore::release(int n) {
  if (n < 1) {
    throw std::invalid_argument("mp: Semaphore::release(n) needs n >= 1, not " + std::to_string(n));
  }
  SemaphoreBlock& s = word_in<SemaphoreBlock>(block_);
  if (!s.sem.release(static_cast<std::uint32_t>(n), s.bound)) {
    throw std::logic_error("mp: semaphore released too many times (its value would pass " +
                           std::to_string(s.bound) + ")");
  }
}

int Semaphore::get_value() const {
  return static_cast<int>(word_in<SemaphoreBlock>(block_).sem.count.load());
}

// ---------------------------------------------------------------------------------------
// Event

Event::Event() : block_(make_block<shm::EventWord>("mp-event")) {}
bool Event::is_set() const { return word_in<shm::EventWord>(block_).is_set(); }
void Event::set() { word_in<shm::EventWord>(block_).set(); }
void Event::clear() { word_in<shm::EventWord>(block_).clear(); }
bool Event::wait_until(detail::SteadyClock::time_point deadline) {
  return word_in<shm::EventWord>(block_).wait(deadline);
}

// ---------------------------------------------------------------------------------------
// Barrier

Barrier::Barrier(int parties) {
  if (parties < 1) {
    throw std::invalid_argument("mp: a barrier needs parties >= 1, not " + std::to_string(parties));
  }
  block_ = make_block<shm::BarrierWord>(
      "mp-barrier", sizeof(shm::ParticipantSlot) * static_cast<std::size_t>(parties));
  word_in<shm::BarrierWord>(block_).parties = static_cast<std::uint32_t>(parties);
}

int Barrier::wait_until(detail::SteadyClock::time_point deadline) {
  std::uint32_t index = 0;
  switch (shm::barrier_wait(word_in<shm::BarrierWord>(block_), deadline, index)) {
    case shm::BarrierResult::passed:
      return static_cast<int>(index);
    case shm::BarrierResult::timed_out:
      throw BrokenBarrierError("mp: Barrier::wait timed out; the barrier is broken");
    case shm::BarrierResult::broken:
      break;
  }
  throw BrokenBarrierError(
      "mp: the barrier is broken (a wait timed out, abort() or reset() was called, or a "
      "participant died before arriving)");
}

void Barrier::abort() { shm::barrier_abort(word_in<shm::BarrierWord>(block_)); }
void Barrier::reset() { shm::barrier_reset(word_in<shm::BarrierWord>(block_)); }
int Barrier::parties() const { return static_cast<int>(word_in<shm::BarrierWord>(block_).parties); }
int Barrier::n_waiting() const {
  return static_cast<int>(word_in<shm::BarrierWord>(block_).arrived.load());
}
bool Barrier::broken() const { return word_in<shm::BarrierWord>(block_).broken.load() != 0; }

}  // namespace mp
