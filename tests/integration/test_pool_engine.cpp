// The pool's engine works without its caller: queued work finishes while the program
// does something else, callbacks fire from the pool's thread, several threads share one
// pool. Also the call-shape bugs a new user met (imap of bool, string-literal arguments,
// an abandoned imap, many outstanding apply_async calls). Every start method.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mp/mp.hpp>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "helpers/eventually.hpp"
#include "helpers/hygiene.hpp"
#include "helpers/inputs.hpp"
#include "helpers/start_methods.hpp"

namespace {

using namespace std::chrono_literals;
using mp::test::eventually;
using mp::test::iota;
using PoolEngine = mp::test::StartMethodTest;
using Clock = std::chrono::steady_clock;

int sleepy_square(int x) {
  std::this_thread::sleep_for(10ms);
  return x * x;
}

int fails_on_three(int x) {
  if (x == 3) {
    throw std::runtime_error("three");
  }
  return x;
}

TEST_P(PoolEngine, MapAsyncFinishesWhileTheCallerSleeps) {
  mp::Pool pool(options(2));
  // 40 tasks of 10 ms on 2 workers: ~0.2 s of work, far more than the ~1 ms the pool
  // keeps queued per worker, so most of it must be sent while the caller is away.
  auto r = pool.map_async(sleepy_square, iota(40), 1);
  std::this_thread::sleep_for(1500ms);
  EXPECT_TRUE(r.ready()) << "the work waited for the caller";
  const auto ys = r.get();
  ASSERT_EQ(ys.size(), 40u);
  EXPECT_EQ(ys[39], 39 * 39);
}

TEST_P(PoolEngine, CallbacksFireWithoutTheCaller) {
  mp::Pool pool(options(2));
  std::atomic<int> sum{0};
  std::atomic<int> errors{0};
  std::vector<mp::AsyncResult<int>> results;
  for (int i = 0; i < 20; ++i) {
    results.push_back(pool.apply_async(
        fails_on_three, i,
        mp::callbacks([&sum](int v) { sum += v; },
                      [&errors](std::exception_ptr e) {
                        try {
                          std::rethrow_exception(e);
                        } catch (const std::runtime_error& err) {
                          if (std::string(err.what()).find("three") != std::string::npos) {
                            ++errors;
                          }
                        }
                      })));
  }
  // No Pool call from here on: the pool's own thread collects the results.
  EXPECT_TRUE(eventually([&] { return sum == 190 - 3 && errors == 1; }, 20s))
      << "sum " << sum << ", errors " << errors;
  for (auto& r : results) {
    EXPECT_TRUE(r.ready());
  }
  EXPECT_THROW(results[3].get(), std::runtime_error);
}

TEST_P(PoolEngine, MapAsyncCallbackGetsTheWholeVector) {
  mp::Pool pool(options(2));
  std::atomic<std::size_t> size{0};
  std::atomic<int> last{0};
  auto r = pool.map_async([](int x) { return x + 1; }, iota(1000), 10,
                          mp::callbacks([&](const std::vector<int>& ys) {
                            last = ys.back();
                            size = ys.size();
                          }));
  EXPECT_TRUE(eventually([&] { return size == 1000u; }, 20s));
  EXPECT_EQ(last, 1000);
  EXPECT_EQ(r.get().size(), 1000u);
}

TEST_P(PoolEngine, ACallbackThatThrowsIsReportedAndTheResultStands) {
  mp::Pool pool(options(1));
  std::atomic<bool> ran{false};
  auto r = pool.apply_async([](int x) { return x * 2; }, 21, mp::callbacks([&](int) {
                              ran = true;
                              throw std::runtime_error("callback failed");
                            }));
  EXPECT_EQ(r.get(), 42);
  EXPECT_TRUE(eventually([&] { return ran.load(); }, 20s));
  // The pool goes on.
  EXPECT_EQ(pool.apply([](int x) { return x + 1; }, 1), 2);
}

TEST_P(PoolEngine, ACallbackMayCallThePool) {
  mp::Pool pool(options(2));
  std::atomic<int> second{0};
  mp::Pool* p = &pool;
  pool.apply_async([](int x) { return x; }, 5, mp::callbacks([&second, p](int v) {
                     // Submitting from the callback's thread must not deadlock.
                     p->apply_async([](int y) { return y * 10; }, v,
                                    mp::callbacks([&second](int w) { second = w; }));
                   }));
  EXPECT_TRUE(eventually([&] { return second == 50; }, 20s)) << second;
}

TEST_P(PoolEngine, TheLastOwnerMayLetGoInACallback) {
  const int fds_before = mp::test::count_open_fds();
  std::atomic<bool> ran{false};
  {
    auto pool = std::make_shared<mp::Pool>(options(1));
    auto r = pool->apply_async(sleepy_square, 2, mp::callbacks([pool, &ran](int) mutable {
                                 pool.reset();  // maybe the last reference: on the pool's thread
                                 ran = true;
                               }));
    (void)r;
  }
  EXPECT_TRUE(eventually([&] { return ran.load(); }));
  // The engine is destroyed on another thread, soon after: its workers and descriptors go.
  EXPECT_TRUE(eventually([&] {
    return mp::test::child_pids().size() <= 1 &&  // the fork server may live on
           mp::test::count_open_fds() <= fds_before + 1;
  }));
}

TEST_P(PoolEngine, EightThreadsSubmitAtOnce) {
  mp::Pool pool(options(2));
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        if (pool.apply([](int a, int b) { return a * 1000 + b; }, t, i) != t * 1000 + i) {
          ++wrong;
        }
      }
      std::vector<mp::AsyncResult<int>> rs;
      for (int i = 0; i < 100; ++i) {
        rs.push_back(pool.apply_async([](int a) { return a + 1; }, t * 100 + i));
      }
      for (int i = 0; i < 100; ++i) {
        if (rs[static_cast<std::size_t>(i)].get() != t * 100 + i + 1) {
          ++wrong;
        }
      }
      const auto ys = pool.map([](int x) { return -x; }, iota(500), 7);
      if (ys.size() != 500u || ys[499] != -499) {
        ++wrong;
      }
      int n = 0;
      for (int y : pool.imap_unordered([](int x) { return x; }, iota(100))) {
        n += y;
      }
      if (n != 4950) {
        ++wrong;
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(wrong, 0);
}

TEST_P(PoolEngine, AResultIsWaitedForInAnotherThread) {
  mp::Pool pool(options(2));
  auto r = pool.apply_async(sleepy_square, 9);
  int got = 0;
  std::thread waiter([&] { got = r.get(); });
  waiter.join();
  EXPECT_EQ(got, 81);
}

TEST_P(PoolEngine, AbandonedImapThenCloseAndJoinReturns) {
  // Regression: the unsent rest of the input kept join() waiting for good.
  mp::Pool pool(options(2));
  std::vector<int> xs = iota(100'000);
  int seen = 0;
  for (int y : pool.imap([](int x) { return x * x; }, xs)) {
    ++seen;
    if (y >= 4) {
      break;
    }
  }
  EXPECT_EQ(seen, 3);
  pool.close();
  EXPECT_TRUE(pool.join(30s)) << "join() waited for input nobody will take";
}

TEST_P(PoolEngine, JoinWhileAnImapIsHeldBackEndsItWithAnError) {
  mp::Pool pool(options(2));
  auto results = pool.imap([](int x) { return x; }, iota(100'000));
  EXPECT_EQ(results.next(20s), std::optional<int>(0));
  pool.close();
  EXPECT_TRUE(pool.join(30s));
  // What arrived is delivered, then the iteration says why it ends early.
  int delivered = 1;
  EXPECT_THROW(
      {
        while (results.next(20s)) {
          ++delivered;
        }
      },
      std::logic_error);
  EXPECT_LT(delivered, 100'000);
}

TEST_P(PoolEngine, ImapOfABoolFunction) {
  // Regression: std::vector<bool>'s proxy reference broke imap and imap_unordered.
  mp::Pool pool(options(2));
  std::vector<bool> odd;
  for (bool b : pool.imap([](int x) { return x % 2 == 1; }, iota(10))) {
    odd.push_back(b);
  }
  EXPECT_EQ(odd,
            (std::vector<bool>{false, true, false, true, false, true, false, true, false, true}));
  int count = 0;
  for (bool b : pool.imap_unordered([](int x) { return x % 3 == 0; }, iota(30), 4)) {
    count += b ? 1 : 0;
  }
  EXPECT_EQ(count, 10);
}

std::string describe(std::string who, long n) { return who + ":" + std::to_string(n); }

TEST_P(PoolEngine, StringLiteralArgumentsConvertAsInAProcess) {
  // Regression: a const char* reached the codec in apply_async (it compiled for Process).
  mp::Pool pool(options(1));
  EXPECT_EQ(pool.apply_async(describe, "first", 10LL).get(), "first:10");
  EXPECT_EQ(pool.apply(describe, "second", 20), "second:20");
}

TEST_P(PoolEngine, ManyOutstandingApplyAsyncCalls) {
  // Regression: every submit and every result scanned all outstanding calls, O(n^2) in
  // all; 200 000 of them took minutes. Now each costs the same however many wait.
  mp::Pool pool(options(2));
  constexpr int kCalls = 200'000;
  std::vector<mp::AsyncResult<int>> rs;
  rs.reserve(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    rs.push_back(pool.apply_async([](int x) { return x + 1; }, i));
  }
  long long sum = 0;
  for (auto& r : rs) {
    sum += r.get();
  }
  EXPECT_EQ(sum, static_cast<long long>(kCalls) * (kCalls + 1) / 2);
}

TEST_P(PoolEngine, ACrashWhileTheCallerIsAwayIsReplaced) {
  mp::Pool pool(options(2));
  auto crash = pool.apply_async([](int) -> int { ::abort(); }, 0);
  auto after = pool.map_async([](int x) { return x; }, iota(100), 1);
  EXPECT_TRUE(eventually([&] { return crash.ready() && after.ready(); }, 20s));
  EXPECT_THROW(crash.get(), mp::WorkerCrashed);
  EXPECT_EQ(after.get().back(), 99);
}

TEST_P(PoolEngine, DestroyedWithWorkOutstandingLeavesNothing) {
  std::optional<mp::AsyncResult<int>> r;
  {
    mp::Pool pool(options(2));
    r = pool.apply_async(sleepy_square, 3);
    pool.map_async(sleepy_square, iota(100));
  }
  // HygieneTest checks that no worker is left; a result not ready says why.
  if (!r->ready()) {
    EXPECT_THROW(r->get(), mp::BrokenPool);
  }
}

MP_TEST_ALL_START_METHODS(PoolEngine);

}  // namespace
