// Crash retries and per-worker resource limits, with real crashes and real rlimits: what
// the caller sees, and that the pool goes on.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mp/mp.hpp>
#include <numeric>
#include <vector>

#include "helpers/drain.hpp"
#include "helpers/hygiene.hpp"
#include "helpers/inputs.hpp"
#include "helpers/sanitizers.hpp"
#include "helpers/shared_counters.hpp"
#include "helpers/start_methods.hpp"

namespace {

using namespace std::chrono_literals;
using PoolLimits = mp::test::StartMethodTest;

using mp::test::iota;

using mp::test::SharedCounters;

TEST_P(PoolLimits, CrashRetriesRecoverAFlakyTask) {
  mp::test::user_sees(
      "A task that dies twice, with `crash_retries = 2`: its third attempt's value, no exception");
  SharedCounters attempts(40);
  mp::PoolOptions o = options();
  o.processes = 2;
  o.crash_retries = 2;
  mp::Pool pool(o);
  const auto counts = attempts.handle();
  // Item 7 dies on its first two attempts and succeeds on the third.
  const auto ys = pool.map(
      [counts](int x) {
        const int attempt = counts.add(static_cast<std::size_t>(x));
        if (x == 7 && attempt <= 2) ::raise(SIGKILL);
        return x * 2;
      },
      iota(40), 1);
  std::vector<int> want(40);
  for (int i = 0; i < 40; ++i) want[static_cast<std::size_t>(i)] = 2 * i;
  EXPECT_EQ(ys, want);
  EXPECT_EQ(attempts[7], 3);
}

TEST_P(PoolLimits, CrashRetriesRunOutIntoWorkerCrashed) {
  mp::test::user_sees(
      "A task that always aborts, with `crash_retries = 3`: `mp::WorkerCrashed` after exactly four "
      "attempts");
  SharedCounters attempts(1);
  mp::PoolOptions o = options();
  o.processes = 2;
  o.crash_retries = 3;
  mp::Pool pool(o);
  const auto count = attempts.handle();
  try {
    pool.apply(
        [count](int) -> int {
          count.add(0);
          std::abort();
        },
        0);
    FAIL() << "no crash";
  } catch (const mp::WorkerCrashed& e) {
    EXPECT_EQ(e.signal(), SIGABRT);
    EXPECT_EQ(e.cause(), mp::CrashCause::died);
  }
  EXPECT_EQ(attempts[0], 4) << "one attempt and three retries";
  EXPECT_EQ(pool.apply([](int x) { return x + 1; }, 1), 2);
}

// Inside a merged message, a retry runs the crashed argument again; arguments that threw
// still fail on their own, and every other argument has its value.
TEST_P(PoolLimits, CrashRetriesInsideABatchLoseNothing) {
  mp::test::user_sees(
      "Crashes retried inside merged messages of 2000 tiny tasks: every value arrives, an "
      "exception thrown by another argument still reaches the caller");
  SharedCounters attempts(2000);
  mp::PoolOptions o = options();
  o.processes = 2;
  o.crash_retries = 1;
  mp::Pool pool(o);
  const auto counts = attempts.handle();
  auto it = pool.imap(
      [counts](int x) {
        const int attempt = counts.add(static_cast<std::size_t>(x));
        if (x % 500 == 3 && attempt == 1) ::raise(SIGSEGV);
        if (x == 1000) throw std::out_of_range("x is 1000");
        return x;
      },
      iota(2000), 1);
  const auto got = mp::test::drain<std::out_of_range>(it);
  EXPECT_EQ(got.values.size(), 1999u);
  EXPECT_EQ(got.failures.size(), 1u);
  // Each crashed argument ran again after its crash. It may run a third time: when a later
  // argument of the same merged message crashes, the message runs again from its start
  // (documented at PoolOptions::auto_batch), and message sizes depend on measured timing.
  for (int x : {3, 503, 1003, 1503})
    EXPECT_GE(attempts[static_cast<std::size_t>(x)], 2) << "item " << x;
}

// The budget is per argument: two arguments of one message that always crash each run
// 1 + crash_retries times, however their crashes alternate.
TEST_P(PoolLimits, CrashRetriesAreCountedPerArgument) {
  mp::test::user_sees(
      "Two arguments of one chunk always crash, `crash_retries = 1`: each runs exactly twice "
      "and fails with `mp::WorkerCrashed`; the other eight have values");
  SharedCounters attempts(10);
  mp::PoolOptions o = options();
  o.processes = 1;
  o.crash_retries = 1;
  o.auto_batch = false;
  mp::Pool pool(o);
  const auto counts = attempts.handle();
  auto results = pool.imap(
      [counts](int x) {
        counts.add(static_cast<std::size_t>(x));
        if (x == 3 || x == 7) ::raise(SIGKILL);
        return x;
      },
      iota(10), 10);
  const auto got = mp::test::drain<mp::WorkerCrashed>(results);
  EXPECT_EQ(got.values.size(), 8u);
  EXPECT_EQ(got.failures.size(), 2u);
  EXPECT_EQ(attempts[3], 2);
  EXPECT_EQ(attempts[7], 2);
}

TEST_P(PoolLimits, SigxcpuWithoutALimitIsAPlainCrash) {
  mp::test::user_sees(
      "A task dies of SIGXCPU in a pool without `cpu_time_limit`: `mp::WorkerCrashed` with "
      "`cause() == CrashCause::died`");
  mp::Pool pool(options(1));
  try {
    pool.apply(
        [](int) -> int {
          ::raise(SIGXCPU);
          return 0;
        },
        0);
    FAIL() << "no crash";
  } catch (const mp::WorkerCrashed& e) {
    EXPECT_EQ(e.signal(), SIGXCPU);
    EXPECT_EQ(e.cause(), mp::CrashCause::died);
  }
}

TEST_P(PoolLimits, TimeoutsAreNotRetried) {
  mp::test::user_sees(
      "A task stopped by `task_timeout` with `crash_retries = 5`: `mp::TimeoutError` after one "
      "attempt");
  SharedCounters attempts(1);
  mp::PoolOptions o = options();
  o.processes = 1;
  o.crash_retries = 5;
  o.task_timeout = 150ms;
  mp::Pool pool(o);
  const auto count = attempts.handle();
  EXPECT_THROW(pool.apply(
                   [count](int) {
                     count.add(0);
                     ::pause();
                     return 0;
                   },
                   0),
               mp::TimeoutError);
  EXPECT_EQ(attempts[0], 1);
}

TEST_P(PoolLimits, MemoryLimitEndsTheWorkerAndNamesTheCause) {
  mp::test::user_sees(
      "A task allocates 1 GiB under `memory_limit = 64 MiB`: `mp::WorkerCrashed` with `cause() == "
      "CrashCause::memory_limit` for that task only");
#if defined(MP_TEST_SANITIZED)
  GTEST_SKIP() << "the sanitizers reserve terabytes of address space; RLIMIT_AS cannot apply";
#endif
  mp::PoolOptions o = options();
  o.processes = 2;
  o.memory_limit = std::size_t{64} << 20;
  mp::Pool pool(o);
  // 16 MiB fits under the limit; 1 GiB does not.
  EXPECT_EQ(pool.apply([](std::size_t n) { return std::vector<char>(n, 'a').size(); },
                       std::size_t{16} << 20),
            std::size_t{16} << 20);
  auto results = pool.imap(
      [](int x) {
        if (x == 2) {
          std::vector<char> huge(std::size_t{1} << 30, 'x');
          // The compiler may drop an allocation whose memory does not escape.
          asm volatile("" : : "r"(huge.data()) : "memory");
          return static_cast<int>(huge[12345]);
        }
        return x;
      },
      iota(5), 1);
  const auto got = mp::test::drain<mp::WorkerCrashed>(results);
  EXPECT_EQ(got.values, (std::vector<int>{0, 1, 3, 4}));
  ASSERT_FALSE(got.failures.empty());
  const mp::WorkerCrashed& crash = got.failures.back();
  EXPECT_EQ(crash.task_index(), 2u);
  EXPECT_EQ(crash.cause(), mp::CrashCause::memory_limit);
  EXPECT_NE(std::string(crash.what()).find("memory_limit"), std::string::npos) << crash.what();
}

TEST_P(PoolLimits, CpuTimeLimitEndsASpinningTask) {
  mp::test::user_sees(
      "A task spins under `cpu_time_limit = 1s`: `mp::WorkerCrashed` (SIGXCPU, "
      "`CrashCause::cpu_time_limit`); short tasks are unaffected");
  mp::PoolOptions o = options();
  o.processes = 2;
  o.cpu_time_limit = 1s;
  mp::Pool pool(o);
  const auto t0 = std::chrono::steady_clock::now();
  try {
    pool.apply(
        [](int) {
          volatile unsigned long spin = 0;
          for (;;) spin = spin + 1;
          return 0;
        },
        0);
    FAIL() << "the spinning task was not stopped";
  } catch (const mp::WorkerCrashed& e) {
    EXPECT_EQ(e.signal(), SIGXCPU);
    EXPECT_EQ(e.cause(), mp::CrashCause::cpu_time_limit);
    EXPECT_NE(std::string(e.what()).find("cpu_time_limit"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  // The limit is per task: many short tasks together use more than a second of CPU time
  // in one worker without hitting it.
  const auto sums = pool.map(
      [](int) {
        volatile unsigned long s = 0;
        for (unsigned long i = 0; i < 30'000'000; ++i) s = s + i;
        return 1;
      },
      iota(40), 1);
  EXPECT_EQ(std::accumulate(sums.begin(), sums.end(), 0), 40);
}

TEST_P(PoolLimits, SleepingDoesNotCountAgainstTheCpuLimit) {
  mp::test::user_sees(
      "A task sleeps 1.5 s under `cpu_time_limit = 1s`: its value (sleeping uses no CPU time)");
  mp::PoolOptions o = options();
  o.processes = 1;
  o.cpu_time_limit = 1s;
  mp::Pool pool(o);
  EXPECT_EQ(pool.apply(
                [](int x) {
                  std::this_thread::sleep_for(1500ms);
                  return x;
                },
                4),
            4);
}

TEST_P(PoolLimits, BadLimitsAreRejectedAtTheCall) {
  mp::test::user_sees(
      "A negative `cpu_time_limit` or `crash_retries`: `std::invalid_argument` from the "
      "constructor");
  mp::PoolOptions o = options();
  o.processes = 1;
  o.cpu_time_limit = -1s;
  EXPECT_THROW(mp::Pool{o}, std::invalid_argument);
  o.cpu_time_limit = 0s;
  o.crash_retries = -1;
  EXPECT_THROW(mp::Pool{o}, std::invalid_argument);
}

MP_TEST_ALL_START_METHODS(PoolLimits);

}  // namespace
