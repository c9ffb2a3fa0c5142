// Locks, semaphores, events, conditions and barriers shared between processes (Python's
// multiprocessing.Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition, Barrier).
//
//   mp::Lock lock;
//   mp::Process p([](mp::Lock l) { std::lock_guard g(l); /* ... */ }, lock);
//
// An object is a handle: copies (and the copies a Process target, a Pool initializer or
// a task receives) are the same lock. They live in anonymous shared memory that goes
// away with the last handle, so nothing is left behind, however the processes end. They
// reach processes started by any start method (include/mp/detail/shared_block.hpp says
// how).
//
// Where Python deadlocks, mp does not: a thread that dies holding a Lock or RLock (its
// process killed in the critical section) is noticed by the next acquirer within about
// 20 ms, which then holds the lock and gets mp::OwnerDied. The data the lock guarded
// may be half-updated: catch OwnerDied, repair or re-check the data, go on, release.
// A Barrier breaks (mp::BrokenBarrierError) when a process that has waited on it before
// dies instead of arriving.
//
// Using a moved-from handle throws std::logic_error. Timed calls take a std::chrono duration; zero
// or negative means "do not wait". Every blocking call throws mp::Interrupted on Ctrl-C
// (include/mp/errors.hpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "mp/detail/deadline.hpp"
#include "mp/detail/shared_block.hpp"

namespace mp {

namespace detail {

// The acquire/release vocabulary of Lock, RLock and Semaphore, from the three calls each
// defines: acquire_until(deadline), try_acquire() and release(). Also the standard's
// Lockable requirements, so std::lock_guard, std::unique_lock and std::scoped_lock work.
template <class Derived>
class LockableCalls {
 public:
  // Blocks until acquired. A Lock or RLock whose holder died throws mp::OwnerDied, and
  // the caller holds it then.
  void acquire() { self().acquire_until(SteadyClock::time_point::max()); }
  // False if not acquired within `timeout` (zero or negative: do not wait).
  template <class Rep, class Period>
  bool acquire_for(std::chrono::duration<Rep, Period> timeout) {
    return self().acquire_until(deadline_after(timeout));
  }

  void lock() { acquire(); }
  bool try_lock() { return self().try_acquire(); }
  void unlock() { self().release(); }

 private:
  Derived& self() { return static_cast<Derived&>(*this); }
};

}  // namespace detail

// A lock any thread of any process may release (Python's Lock).
class Lock : public detail::LockableCalls<Lock> {
 public:
  Lock();
  // An empty handle (a Condition's lock before it is decoded into); using it throws
  // std::logic_error.
  explicit Lock(std::nullptr_t) {}

  // Waits until `deadline` on the steady clock; false if it passed first.
  bool acquire_until(detail::SteadyClock::time_point deadline);
  bool try_acquire();
  // Throws std::logic_error if it is not locked.
  void release();
  bool locked() const;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(block_);
  }

 private:
  detail::SharedBlock block_;
};

// A lock its owner may acquire again (Python's RLock); released as often as acquired,
// by the owning thread only (std::logic_error otherwise).
class RLock : public detail::LockableCalls<RLock> {
 public:
  RLock();
  // An empty handle, as Lock(nullptr).
  explicit RLock(std::nullptr_t) {}

  bool acquire_until(detail::SteadyClock::time_point deadline);
  bool try_acquire();
  void release();
  // True if the calling thread holds it.
  bool owned() const;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(block_);
  }

 private:
  friend class Condition;
  // Releases it however often the owner acquired it; returns how often.
  std::uint32_t release_all();
  // Acquires it and sets how often the owner holds it.
  void acquire_restore(std::uint32_t depth);

  detail::SharedBlock block_;
};

// A counting semaphore (Python's Semaphore). Throws std::invalid_argument for a negative
// initial value.
class Semaphore : public detail::LockableCalls<Semaphore> {
 public:
  explicit Semaphore(int value = 1);

  bool acquire_until(detail::SteadyClock::time_point deadline);
  bool try_acquire();
  // Adds n (>= 1). A BoundedSemaphore throws std::logic_error, changing nothing, if the
  // value would pass its initial value.
  void release(int n = 1);
  int get_value() const;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(block_);
  }

 protected:
  Semaphore(int value, bool bounded);

 private:
  detail::SharedBlock block_;
};

// A semaphore whose value may not exceed its initial value (Python's BoundedSemaphore).
class BoundedSemaphore : public Semaphore {
 public:
  explicit BoundedSemaphore(int value = 1) : Semaphore(value, true) {}
};

// A flag processes wait to see set (Python's Event).
class Event {
 public:
  Event();

  bool is_set() const;
  void set();
  void clear();
  void wait() { wait_until(detail::SteadyClock::time_point::max()); }
  // The flag: false if it was not set within `timeout`.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) {
    return wait_until(detail::deadline_after(timeout));
  }

  template <class Archive>
  void serialize(Archive& ar) {
    ar(block_);
  }

 private:
  bool wait_until(detail::SteadyClock::time_point deadline);
  detail::SharedBlock block_;
};

// A condition variable over a Lock or an RLock (Python's Condition; its own RLock by
// default). wait() releases the lock, sleeps until notified, and holds the lock again
// when it returns, as many times as before for an RLock. Waiting or notifying without
// holding the lock throws std::logic_error. notify(n) wakes up to n waiters asleep at that
// moment; a waiter still on its way to sleep sees the notification too, so wait for a
// condition, not for a notification: wait_for(predicate) does.
//
//   mp::Condition cv;
//   mp::RawValue<int> ready(0);
//   // one process:                      // another:
//   std::lock_guard g(cv);               std::lock_guard g(cv);
//   cv.wait_for([&] { return ready.load() != 0; });   ready.store(1); cv.notify();
class Condition : public detail::LockableCalls<Condition> {
 public:
  Condition();
  explicit Condition(Lock lock);
  explicit Condition(RLock lock);

  bool acquire_until(detail::SteadyClock::time_point deadline);
  bool try_acquire();
  void release();

  void wait() { wait_until(detail::SteadyClock::time_point::max()); }
  // False if not notified within `timeout`.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) {
    return wait_until(detail::deadline_after(timeout));
  }
  // Waits until pred() is true (tested with the lock held); returns it.
  template <class Pred>
  bool wait_for(Pred pred) {
    return wait_until(detail::SteadyClock::time_point::max(), std::move(pred));
  }
  // As above, for at most `timeout`; returns pred()'s last value.
  template <class Rep, class Period, class Pred>
  bool wait_for(std::chrono::duration<Rep, Period> timeout, Pred pred) {
    return wait_until(detail::deadline_after(timeout), std::move(pred));
  }
  bool wait_until(detail::SteadyClock::time_point deadline);
  template <class Pred>
  bool wait_until(detail::SteadyClock::time_point deadline, Pred pred) {
    bool ok = pred();
    while (!ok && wait_until(deadline)) {
      ok = pred();
    }
    return ok || pred();
  }

  void notify(int n = 1);
  void notify_all();

  template <class Archive>
  void serialize(Archive& ar) {
    ar(block_, reentrant_);  // read first when loading: it says which lock follows
    if (reentrant_) {
      ar(rlock_);
    } else {
      ar(lock_);
    }
  }

 private:
  void check_owned(const char* call) const;

  detail::SharedBlock block_;
  bool reentrant_ = true;
  RLock rlock_{nullptr};  // the lock in use: rlock_ if reentrant_, else lock_
  Lock lock_{nullptr};
};

// A barrier for `parties` threads of any processes (Python's Barrier, without the
// action). wait() returns a distinct arrival index, 0 .. parties - 1. Throws
// mp::BrokenBarrierError when the barrier is broken: by a wait that timed out (which
// throws it too), abort(), reset() while threads wait, or a participant that died (a
// thread that has waited on it before and is gone before arriving; a process that dies
// before its first wait is not known to the barrier: give the waits a timeout).
class Barrier {
 public:
  // Throws std::invalid_argument unless parties >= 1.
  explicit Barrier(int parties);
  // An empty handle, for a received barrier to be decoded into; using it throws
  // std::logic_error (as using a moved-from handle of any of these classes does).
  Barrier() = default;

  int wait() { return wait_until(detail::SteadyClock::time_point::max()); }
  template <class Rep, class Period>
  int wait_for(std::chrono::duration<Rep, Period> timeout) {
    return wait_until(detail::deadline_after(timeout));
  }
  void abort();
  void reset();
  int parties() const;
  int n_waiting() const;
  bool broken() const;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(block_);
  }

 private:
  int wait_until(detail::SteadyClock::time_point deadline);
  detail::SharedBlock block_;
};

}  // namespace mp
