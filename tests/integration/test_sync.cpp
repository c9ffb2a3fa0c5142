// Locks, semaphores, events and barriers shared between processes started every way,
// and what happens when a process dies holding or awaiting one.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <mp/mp.hpp>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "helpers/eventually.hpp"
#include "helpers/hygiene.hpp"
#include "helpers/start_methods.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using SharedSync = mp::test::StartMethodTest;

using SyncObjects = mp::test::HygieneTest;

void join_ok(mp::Process& p) { mp::test::join_ok(p, 30s); }

// A read-modify-write that loses updates unless the lock excludes the other processes.
void add_under_lock(mp::Lock lock, mp::RawValue<long> counter, int times) {
  for (int i = 0; i < times; ++i) {
    std::lock_guard g(lock);
    const long v = counter.load();
    if (i % 64 == 0) std::this_thread::yield();
    counter.store(v + 1);
  }
}

TEST_P(SharedSync, LockExcludesOtherProcesses) {
  mp::Lock lock;
  mp::RawValue<long> counter(0);
  std::vector<mp::Process> ps;
  for (int i = 0; i < 3; ++i) ps.push_back(start_process(add_under_lock, lock, counter, 3000));
  add_under_lock(lock, counter, 3000);
  for (auto& p : ps) join_ok(p);
  EXPECT_EQ(counter.load(), 4 * 3000);
  EXPECT_FALSE(lock.locked());
}

void release_it(mp::Lock lock) { lock.release(); }

TEST_P(SharedSync, AnyProcessMayReleaseALock) {
  mp::Lock lock;
  lock.acquire();
  mp::Process p = start_process(release_it, lock);
  join_ok(p);
  EXPECT_FALSE(lock.locked());
  EXPECT_THROW(lock.release(), std::logic_error);
}

TEST_F(SyncObjects, LockTimeoutsAndMisuse) {
  mp::Lock lock;
  EXPECT_TRUE(lock.try_acquire());
  EXPECT_FALSE(lock.try_acquire());
  EXPECT_FALSE(lock.acquire_for(-1s));
  const auto t0 = Clock::now();
  EXPECT_FALSE(lock.acquire_for(60ms));
  EXPECT_GE(Clock::now() - t0, 60ms);
  lock.release();
  EXPECT_THROW(lock.release(), std::logic_error);
}

TEST_F(SyncObjects, RLockCountsItsOwnersAcquisitions) {
  mp::RLock r;
  r.acquire();
  r.acquire();
  EXPECT_TRUE(r.owned());
  std::thread other([r]() mutable {
    EXPECT_FALSE(r.owned());
    EXPECT_FALSE(r.try_acquire());
    EXPECT_THROW(r.release(), std::logic_error);
  });
  other.join();
  r.release();
  EXPECT_TRUE(r.owned());
  r.release();
  EXPECT_FALSE(r.owned());
  EXPECT_THROW(r.release(), std::logic_error);
  std::thread taker([r]() mutable {
    EXPECT_TRUE(r.try_acquire());
    r.release();
  });
  taker.join();
}

void take_and_report(mp::Semaphore sem, mp::RawValue<int> max_inside, mp::RawValue<int> inside,
                     mp::Lock stats) {
  for (int i = 0; i < 200; ++i) {
    sem.acquire();
    {
      std::lock_guard g(stats);
      inside.store(inside.load() + 1);
      if (inside.load() > max_inside.load()) max_inside.store(inside.load());
    }
    std::this_thread::yield();
    {
      std::lock_guard g(stats);
      inside.store(inside.load() - 1);
    }
    sem.release();
  }
}

TEST_P(SharedSync, ASemaphoreAdmitsAtMostItsValue) {
  mp::Semaphore sem(2);
  mp::RawValue<int> max_inside(0), inside(0);
  mp::Lock stats;
  std::vector<mp::Process> ps;
  for (int i = 0; i < 4; ++i)
    ps.push_back(start_process(take_and_report, sem, max_inside, inside, stats));
  for (auto& p : ps) join_ok(p);
  EXPECT_LE(max_inside.load(), 2);
  EXPECT_GE(max_inside.load(), 1);
  EXPECT_EQ(sem.get_value(), 2);
}

TEST_F(SyncObjects, SemaphoreBoundsAndBadValues) {
  EXPECT_THROW(mp::Semaphore(-1), std::invalid_argument);
  mp::BoundedSemaphore b(1);
  EXPECT_THROW(b.release(), std::logic_error);
  EXPECT_EQ(b.get_value(), 1);
  EXPECT_TRUE(b.try_acquire());
  EXPECT_FALSE(b.acquire_for(30ms));
  b.release();
  mp::Semaphore s(0);
  EXPECT_THROW(s.release(0), std::invalid_argument);
  s.release(3);
  EXPECT_EQ(s.get_value(), 3);
}

void wait_then_exit(mp::Event go, mp::Event seen) {
  if (!go.wait_for(30s)) _exit(2);
  seen.set();
}

TEST_P(SharedSync, AnEventWakesAnotherProcess) {
  mp::Event go, seen;
  EXPECT_FALSE(go.wait_for(20ms));
  mp::Process p = start_process(wait_then_exit, go, seen);
  go.set();
  EXPECT_TRUE(seen.wait_for(30s));
  join_ok(p);
  go.clear();
  EXPECT_FALSE(go.is_set());
}

TEST_F(SyncObjects, BarrierIndicesTimeoutsAndReset) {
  EXPECT_THROW(mp::Barrier(0), std::invalid_argument);
  mp::Barrier b(3);
  std::vector<int> seen(3);
  std::vector<std::thread> ts;
  for (int i = 0; i < 3; ++i) ts.emplace_back([b, &seen, i]() mutable { seen[i] = b.wait(); });
  for (auto& t : ts) t.join();
  EXPECT_EQ(std::set<int>(seen.begin(), seen.end()), (std::set<int>{0, 1, 2}));
  EXPECT_THROW(b.wait_for(30ms), mp::BrokenBarrierError);
  EXPECT_TRUE(b.broken());
  EXPECT_THROW(b.wait(), mp::BrokenBarrierError);
  b.reset();
  EXPECT_FALSE(b.broken());
  std::thread t([b]() mutable { EXPECT_THROW(b.wait(), mp::BrokenBarrierError); });
  ASSERT_TRUE(mp::test::eventually([&] { return b.n_waiting() == 1; }, 10s));
  b.abort();
  t.join();
}

// Waits until `state` is 1, answers 2, and waits for 3.
void condition_partner(mp::Condition cv, mp::RawValue<int> state) {
  std::lock_guard g(cv);
  cv.wait_for([&] { return state.load() == 1; });
  state.store(2);
  cv.notify_all();
  if (!cv.wait_for(60s, [&] { return state.load() == 3; })) std::exit(3);
}

TEST_P(SharedSync, AConditionHandsTurnsBetweenProcesses) {
  for (bool reentrant : {true, false}) {
    mp::Condition cv = reentrant ? mp::Condition() : mp::Condition(mp::Lock());
    mp::RawValue<int> state(0);
    mp::Process p = start_process(condition_partner, cv, state);
    {
      std::lock_guard g(cv);
      state.store(1);
      cv.notify();
      EXPECT_TRUE(cv.wait_for(60s, [&] { return state.load() == 2; }));
      state.store(3);
      cv.notify();
    }
    mp::test::join_ok(p, 60s);
  }
}

void wait_for_go(mp::Condition cv, mp::RawValue<int> go, mp::RawValue<int> woken) {
  std::lock_guard g(cv);
  cv.wait_for([&] { return go.load() != 0; });
  woken.store(woken.load() + 1);
}

TEST_P(SharedSync, NotifyAllWakesEveryWaitingProcess) {
  mp::Condition cv;
  mp::RawValue<int> go(0), woken(0);
  std::vector<mp::Process> waiters;
  for (int i = 0; i < 3; ++i) waiters.push_back(start_process(wait_for_go, cv, go, woken));
  std::this_thread::sleep_for(50ms);  // most are asleep by now; the others see `go` first
  {
    std::lock_guard g(cv);
    go.store(1);
    cv.notify_all();
  }
  for (auto& p : waiters) mp::test::join_ok(p, 60s);
  EXPECT_EQ(woken.load(), 3);
}

TEST_F(SyncObjects, ConditionTimeoutsRLockDepthAndMisuse) {
  mp::RLock lock;
  mp::Condition cv(lock);
  EXPECT_THROW(cv.wait_for(1ms), std::logic_error);
  EXPECT_THROW(cv.notify(), std::logic_error);
  EXPECT_THROW(cv.notify_all(), std::logic_error);
  cv.acquire();
  cv.acquire();  // twice: wait must release both and restore both
  const auto start = Clock::now();
  EXPECT_FALSE(cv.wait_for(50ms));
  EXPECT_GE(Clock::now() - start, 50ms);
  EXPECT_TRUE(lock.owned());
  EXPECT_FALSE(cv.wait_for(0s, [] { return false; }));
  cv.notify();  // nobody waits: nothing happens
  cv.release();
  EXPECT_TRUE(lock.owned());
  cv.release();
  EXPECT_FALSE(lock.owned());
  EXPECT_THROW(cv.release(), std::logic_error);
}

MP_TEST_ALL_START_METHODS(SharedSync);

}  // namespace
