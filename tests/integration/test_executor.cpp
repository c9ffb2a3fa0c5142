// Executors and futures (concurrent.futures): states and transitions, cancel, callbacks,
// as_completed and wait, shutdown, many threads, faults per future; and ThreadPool, the
// Pool API on threads. The process executor runs on every start method.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mp/mp.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "helpers/eventually.hpp"
#include "helpers/hygiene.hpp"
#include "helpers/inputs.hpp"
#include "helpers/sanitizers.hpp"
#include "helpers/start_methods.hpp"

namespace {

using namespace std::chrono_literals;
using mp::test::eventually;
using mp::test::iota;
using Clock = std::chrono::steady_clock;

long task(int idx, long count) {
  long sum = 0;
  for (long i = 0; i < count; ++i) {
    sum += i % (idx + 2);
  }
  return sum;
}

int sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

int fails(int x) {
  if (x % 2 == 1) {
    throw std::invalid_argument("odd " + std::to_string(x));
  }
  return x;
}

// ---------------------------------------------------------------------------------------
// The process executor, on every start method.

using ProcessExecutor = mp::test::StartMethodTest;

TEST_P(ProcessExecutor, SubmitAndResult) {
  mp::ProcessPoolExecutor ex(options(2));
  std::vector<mp::Future<long>> fs;
  for (int i = 0; i < 4; ++i) {
    fs.push_back(ex.submit(task, i, 100'000L));
  }
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(fs[static_cast<std::size_t>(i)].result(), task(i, 100'000L));
    EXPECT_TRUE(fs[static_cast<std::size_t>(i)].done());
    EXPECT_FALSE(fs[static_cast<std::size_t>(i)].running());
    EXPECT_EQ(fs[static_cast<std::size_t>(i)].exception(), nullptr);
  }
}

TEST_P(ProcessExecutor, StatesGoPendingRunningFinished) {
  mp::ProcessPoolExecutor ex(options(1));
  auto first = ex.submit(sleep_ms, 300);
  // The one worker holds `first`; enough queued behind it that the last is not sent yet.
  std::vector<mp::Future<int>> queued;
  for (int i = 0; i < 50; ++i) {
    queued.push_back(ex.submit(sleep_ms, 1));
  }
  EXPECT_TRUE(eventually([&] { return first.running(); }));
  EXPECT_FALSE(first.done());
  EXPECT_FALSE(queued.back().running());
  EXPECT_FALSE(queued.back().done());
  EXPECT_THROW(first.result(10ms), mp::TimeoutError);
  EXPECT_EQ(first.result(), 300);
  EXPECT_FALSE(first.running());
  EXPECT_TRUE(first.done());
  EXPECT_TRUE(first.successful());
  for (auto& f : queued) {
    EXPECT_EQ(f.result(), 1);
  }
}

TEST_P(ProcessExecutor, CancelBeforeStartNeverRuns) {
  mp::ProcessPoolExecutor ex(options(1));
  auto blocker = ex.submit(sleep_ms, 300);
  std::vector<mp::Future<int>> queued;
  for (int i = 0; i < 50; ++i) {
    queued.push_back(ex.submit([](int x) { return x; }, i));
  }
  mp::Future<int> last = queued.back();
  std::atomic<int> callbacks{0};
  last.add_done_callback([&](const mp::Future<int>& f) {
    if (f.cancelled()) ++callbacks;
  });
  EXPECT_TRUE(last.cancel());
  EXPECT_TRUE(last.cancelled());
  EXPECT_TRUE(last.done());
  EXPECT_EQ(callbacks, 1);
  EXPECT_THROW(last.result(), mp::CancelledError);
  EXPECT_THROW(last.exception(), mp::CancelledError);
  EXPECT_TRUE(last.cancel());  // again: still cancelled
  // Cancelling a running one fails; it completes.
  EXPECT_TRUE(eventually([&] { return blocker.running() || blocker.done(); }));
  EXPECT_FALSE(blocker.cancel());
  EXPECT_EQ(blocker.result(), 300);
  for (std::size_t i = 0; i + 1 < queued.size(); ++i) {
    EXPECT_EQ(queued[i].result(), static_cast<int>(i));
  }
}

TEST_P(ProcessExecutor, CallbacksOnSuccessErrorAndAfterCompletion) {
  mp::ProcessPoolExecutor ex(options(2));
  std::atomic<int> ok{0};
  std::atomic<int> failed{0};
  auto good = ex.submit(fails, 2);
  auto bad = ex.submit(fails, 3);
  good.add_done_callback([&](const mp::Future<int>& f) { ok += f.result(); });
  bad.add_done_callback([&](const mp::Future<int>& f) {
    if (f.exception()) ++failed;
  });
  EXPECT_TRUE(eventually([&] { return ok == 2 && failed == 1; }));
  EXPECT_THROW(bad.result(), std::invalid_argument);
  // Added after completion: runs at once, on this thread.
  bool now = false;
  good.add_done_callback([&] { now = true; });
  EXPECT_TRUE(now);
  // A callback that throws is reported, not propagated.
  EXPECT_NO_THROW(good.add_done_callback([] { throw std::runtime_error("ignored"); }));
}

TEST_P(ProcessExecutor, CrashAndTimeoutFailOnlyTheirFuture) {
  auto o = options(2);
  o.task_timeout = 200ms;
  mp::ProcessPoolExecutor ex(o);
  auto crash = ex.submit(
      [](int) -> int {
        ::raise(SIGSEGV);
        return 0;
      },
      0);
  auto hang = ex.submit(sleep_ms, 10'000);
  std::vector<mp::Future<int>> rest;
  for (int i = 0; i < 20; ++i) {
    rest.push_back(ex.submit([](int x) { return x + 1; }, i));
  }
  EXPECT_THROW(crash.result(), mp::WorkerCrashed);
  EXPECT_THROW(hang.result(), mp::TimeoutError);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(rest[static_cast<std::size_t>(i)].result(), i + 1);
  }
  // Never broken: later submissions work.
  EXPECT_EQ(ex.submit([](int x) { return x * 2; }, 21).result(), 42);
}

TEST_P(ProcessExecutor, AResourceLimitFailsOnlyItsFuture) {
#if defined(MP_TEST_SANITIZED)
  GTEST_SKIP() << "the sanitizers reserve terabytes of address space; RLIMIT_AS cannot apply";
#endif
  auto o = options(2);
  o.memory_limit = std::size_t{64} << 20;
  mp::ProcessPoolExecutor ex(o);
  auto allocate = [](std::size_t n) {
    std::vector<char> v(n, 'a');
    asm volatile("" : : "r"(v.data()) : "memory");  // an allocation that escapes stays
    return v.size();
  };
  auto greedy = ex.submit(allocate, std::size_t{1} << 30);
  auto modest = ex.submit(allocate, std::size_t{1} << 20);
  try {
    greedy.result();
    ADD_FAILURE() << "no exception";
  } catch (const mp::WorkerCrashed& e) {
    EXPECT_EQ(e.cause(), mp::CrashCause::memory_limit);
  }
  EXPECT_EQ(modest.result(), std::size_t{1} << 20);
}

TEST_P(ProcessExecutor, MapYieldsInOrderAndHonoursTimeout) {
  mp::ProcessPoolExecutor ex(options(2));
  std::vector<int> got;
  for (int y : ex.map([](int x) { return x * 3; }, iota(100), {.timeout = {}, .chunksize = 7})) {
    got.push_back(y);
  }
  ASSERT_EQ(got.size(), 100u);
  EXPECT_EQ(got[99], 297);
  auto slow = ex.map(sleep_ms, std::vector<int>{500, 500}, {.timeout = 50ms});
  EXPECT_THROW(slow.next(), mp::TimeoutError);
}

TEST_P(ProcessExecutor, ShutdownWithoutWaitCancelsPendingWork) {
  mp::ProcessPoolExecutor ex(options(1));
  auto running = ex.submit(sleep_ms, 200);
  std::vector<mp::Future<int>> pending;
  for (int i = 0; i < 30; ++i) {
    pending.push_back(ex.submit(sleep_ms, 50));
  }
  EXPECT_TRUE(eventually([&] { return running.running() || running.done(); }));
  ex.shutdown(/*wait=*/false, /*cancel_futures=*/true);
  EXPECT_THROW(ex.submit(sleep_ms, 1), std::logic_error);
  EXPECT_EQ(running.result(), 200);
  int cancelled = 0;
  for (auto& f : pending) {
    EXPECT_TRUE(f.done() || f.running() || eventually([&] { return f.done(); }));
    cancelled += f.cancelled() ? 1 : 0;
  }
  EXPECT_GE(cancelled, 20);  // all but those already sent to the worker
  // Nothing submitted is silently lost: every future ends, with a value or cancelled.
  for (auto& f : pending) {
    EXPECT_TRUE(f.wait(20s));
    if (!f.cancelled()) {
      EXPECT_EQ(f.result(), 50);
    }
  }
}

TEST_P(ProcessExecutor, SubmissionsFromEightThreads) {
  mp::ProcessPoolExecutor ex(options(2));
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::vector<mp::Future<int>> fs;
      for (int i = 0; i < 300; ++i) {
        fs.push_back(ex.submit([](int a, int b) { return a * 1000 + b; }, t, i));
      }
      for (int i = 0; i < 300; ++i) {
        if (fs[static_cast<std::size_t>(i)].result() != t * 1000 + i) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong, 0);
}

MP_TEST_ALL_START_METHODS(ProcessExecutor);

// ---------------------------------------------------------------------------------------
// Both executors, and the free functions over futures of both.

using Executors = mp::test::HygieneTest;

TEST_F(Executors, AsCompletedGivesEachOnceFastestFirst) {
  mp::ProcessPoolExecutor px(2);
  mp::ThreadPoolExecutor tx(2);
  std::vector<mp::Future<int>> fs{px.submit(sleep_ms, 400), tx.submit(sleep_ms, 1),
                                  px.submit(sleep_ms, 2), tx.submit(sleep_ms, 300)};
  std::vector<int> order;
  for (const auto& f : mp::as_completed(fs)) {
    order.push_back(f.result());
  }
  ASSERT_EQ(order.size(), 4u);
  EXPECT_EQ(std::set<int>(order.begin(), order.end()), (std::set<int>{1, 2, 300, 400}));
  EXPECT_EQ(order.back(), 400);
}

TEST_F(Executors, AsCompletedTimesOut) {
  mp::ThreadPoolExecutor tx(2);
  std::vector<mp::Future<int>> fs{tx.submit(sleep_ms, 1), tx.submit(sleep_ms, 600)};
  auto it = mp::as_completed(fs, 100ms);
  EXPECT_EQ(it.next()->result(), 1);
  EXPECT_THROW(it.next(), mp::TimeoutError);
}

TEST_F(Executors, WaitForFirstCompletedFirstExceptionAndAll) {
  mp::ThreadPoolExecutor tx(3);
  std::vector<mp::Future<int>> fs{tx.submit(sleep_ms, 1000), tx.submit(sleep_ms, 1),
                                  tx.submit(fails, 1)};
  auto first = mp::wait(fs, mp::ReturnWhen::FIRST_COMPLETED);
  EXPECT_GE(first.done.size(), 1u);
  EXPECT_GE(first.not_done.size(), 1u);
  auto exc = mp::wait(fs, mp::ReturnWhen::FIRST_EXCEPTION);
  EXPECT_TRUE(fs[2].done());
  EXPECT_FALSE(fs[0].done());
  EXPECT_EQ(exc.done.size() + exc.not_done.size(), 3u);
  auto timed = mp::wait(fs, 10ms);
  EXPECT_EQ(timed.not_done.size(), 1u);
  auto all = mp::wait(fs);
  EXPECT_EQ(all.done.size(), 3u);
  EXPECT_TRUE(all.not_done.empty());
}

TEST_F(Executors, MapOverSeveralRangesStopsAtTheShortest) {
  mp::ProcessPoolExecutor px(2);
  mp::ThreadPoolExecutor tx(2);
  const std::vector<int> a{1, 2, 3, 4};
  const std::vector<long> b{10, 20, 30};
  std::vector<long> from_processes;
  for (long y : px.map([](int x, long z) { return x * z; }, a, b)) {
    from_processes.push_back(y);
  }
  std::vector<long> from_threads;
  for (long y : tx.map([](int x, long z) { return x * z; }, a, b,
                       mp::MapOptions{.timeout = 20s, .chunksize = 2})) {
    from_threads.push_back(y);
  }
  EXPECT_EQ(from_processes, (std::vector<long>{10, 40, 90}));
  EXPECT_EQ(from_threads, from_processes);
}

TEST_F(Executors, BadInputIsAClearError) {
  EXPECT_THROW(mp::ProcessPoolExecutor(0), std::invalid_argument);
  EXPECT_THROW(mp::ProcessPoolExecutor(-1), std::invalid_argument);
  EXPECT_THROW(mp::ThreadPoolExecutor(0), std::invalid_argument);
  EXPECT_THROW(mp::ProcessPoolExecutor(1, {}, -1), std::invalid_argument);
  mp::ThreadPoolExecutor tx(1);
  // Long enough not to finish before the next line on a loaded machine.
  auto f = tx.submit(sleep_ms, 300);
  EXPECT_THROW(f.result(-5ms), mp::TimeoutError);  // negative: not done now
  EXPECT_EQ(f.result(), 300);
  EXPECT_EQ(f.result(-5ms), 300);  // done: a negative timeout does not matter
  EXPECT_THROW((void)tx.map(sleep_ms, iota(3), {.timeout = {}, .chunksize = 0}),
               std::invalid_argument);
  tx.shutdown();
  EXPECT_THROW(tx.submit(sleep_ms, 1), std::logic_error);
  mp::Future<int> empty;
  EXPECT_THROW(empty.result(), std::logic_error);
}

TEST_F(Executors, AFutureOutlivesItsExecutor) {
  mp::Future<int> f;
  mp::Future<int> g;
  {
    mp::ProcessPoolExecutor px(1);
    f = px.submit(sleep_ms, 20);
    mp::ThreadPoolExecutor tx(1);
    g = tx.submit(sleep_ms, 20);
  }  // the destructors wait for submitted work
  EXPECT_EQ(f.result(), 20);
  EXPECT_EQ(g.result(), 20);
}

// ---------------------------------------------------------------------------------------
// The thread executor.

using ThreadExecutor = mp::test::HygieneTest;

TEST_F(ThreadExecutor, AnyCallableAndType) {
  mp::ThreadPoolExecutor tx(2);
  std::string big(1000, 'x');
  auto f =
      tx.submit([big](const std::string& s) { return big.size() + s.size(); }, std::string("abc"));
  EXPECT_EQ(f.result(), 1003u);
  int local = 5;
  auto g = tx.submit([&local] { local = 7; });
  g.result();
  EXPECT_EQ(local, 7);
}

TEST_F(ThreadExecutor, InitializerRunsPerThreadAndAFailingOneBreaksIt) {
  std::atomic<int> inits{0};
  {
    mp::ThreadPoolExecutor tx(3, [&] { ++inits; });
    std::vector<mp::Future<int>> fs;
    for (int i = 0; i < 30; ++i) fs.push_back(tx.submit(sleep_ms, 1));
    for (auto& f : fs) f.result();
  }
  EXPECT_EQ(inits, 3);
  mp::ThreadPoolExecutor broken(1, [] { throw std::runtime_error("no db"); });
  try {
    // The future fails, or, once the thread has already failed its initializer, submit
    // itself throws (as Python's submit on a broken pool does).
    broken.submit(sleep_ms, 1).result();
    ADD_FAILURE() << "no exception";
  } catch (const mp::BrokenPool& e) {
    EXPECT_NE(std::string(e.what()).find("no db"), std::string::npos) << e.what();
  }
}

TEST_F(ThreadExecutor, ShutdownCancelsPendingAndSubmissionsFromEightThreads) {
  mp::ThreadPoolExecutor tx(2);
  std::atomic<int> sum{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      std::vector<mp::Future<int>> fs;
      for (int i = 0; i < 1000; ++i) fs.push_back(tx.submit([](int x) { return x; }, 1));
      for (auto& f : fs) sum += f.result();
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(sum, 8000);
  std::vector<mp::Future<int>> slow;
  for (int i = 0; i < 20; ++i) slow.push_back(tx.submit(sleep_ms, 50));
  tx.shutdown(false, true);
  int cancelled = 0;
  for (auto& f : slow) {
    EXPECT_TRUE(f.wait(20s));
    cancelled += f.cancelled() ? 1 : 0;
  }
  EXPECT_GE(cancelled, 15);
}

// ---------------------------------------------------------------------------------------
// ThreadPool: the Pool API on threads.

using ThreadPoolTest = mp::test::HygieneTest;

TEST_F(ThreadPoolTest, TheWholePoolApi) {
  mp::ThreadPool pool(3);
  EXPECT_EQ(pool.processes(), 3);
  EXPECT_EQ(pool.map([](int x) { return x * x; }, iota(1000)).back(), 999 * 999);
  EXPECT_EQ(pool.map([](int x) { return x + 1; }, iota(10), 3).front(), 1);
  EXPECT_EQ(pool.starmap([](int a, int b) { return a * b; },
                         std::vector<std::pair<int, int>>{{2, 3}, {4, 5}}),
            (std::vector<int>{6, 20}));
  std::vector<int> in_order;
  for (int y : pool.imap([](int x) { return x; }, iota(200), 7)) in_order.push_back(y);
  EXPECT_EQ(in_order, iota(200));
  long sum = 0;
  for (int y : pool.imap_unordered([](int x) { return x; }, iota(200))) sum += y;
  EXPECT_EQ(sum, 199 * 200 / 2);
  EXPECT_EQ(pool.apply([](std::string s) { return s + "!"; }, std::string("hi")), "hi!");
  auto r = pool.apply_async(sleep_ms, 5);
  EXPECT_EQ(r.get(), 5);
  EXPECT_TRUE(r.ready());
  EXPECT_TRUE(r.successful());
  pool.close();
  pool.join();
  EXPECT_THROW(pool.apply(sleep_ms, 1), std::logic_error);
}

TEST_F(ThreadPoolTest, ErrorsAtTheirPosition) {
  mp::ThreadPool pool(2);
  EXPECT_THROW(pool.map(fails, iota(10)), std::invalid_argument);
  int values = 0;
  int errors = 0;
  auto it = pool.imap(fails, iota(10), 3);
  for (;;) {
    try {
      auto v = it.next();
      if (!v) break;
      ++values;
    } catch (const std::invalid_argument&) {
      ++errors;
    }
  }
  EXPECT_EQ(values, 5);
  EXPECT_EQ(errors, 5);
}

TEST_F(ThreadPoolTest, CallbacksAndBadInput) {
  mp::ThreadPool pool(2);
  std::atomic<int> got{0};
  std::atomic<int> last{0};
  std::atomic<int> err{0};
  pool.apply_async(sleep_ms, 3, mp::callbacks([&](int v) { got = v; }));
  pool.apply_async(fails, 1, mp::error_callback([&](std::exception_ptr) { ++err; }));
  pool.map_async([](int x) { return x; }, iota(10),
                 mp::callbacks([&](const std::vector<int>& v) { last = v.back(); }));
  EXPECT_TRUE(eventually([&] { return got == 3 && last == 9 && err == 1; }))
      << got << " " << last << " " << err;
  EXPECT_THROW(mp::ThreadPool(-1), std::invalid_argument);
  EXPECT_THROW(pool.map(sleep_ms, iota(2), 0), std::invalid_argument);
}

TEST_F(ThreadPoolTest, AnAbandonedImapDoesNotHoldTheJoin) {
  mp::ThreadPool pool(2);
  for (int y : pool.imap([](int x) { return x; }, iota(100'000))) {
    if (y >= 4) break;
  }
  pool.close();
  pool.join();
}

}  // namespace
