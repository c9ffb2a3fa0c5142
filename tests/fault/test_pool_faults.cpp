// Fault injection with real signals and real exits: what a caller sees when a worker dies
// in each way, and that nothing is lost or left behind (HygieneTest checks children, fds
// and /dev/shm after every test).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <mp/mp.hpp>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "helpers/drain.hpp"
#include "helpers/hygiene.hpp"
#include "helpers/inputs.hpp"
#include "helpers/sanitizers.hpp"
#include "helpers/shared_counters.hpp"
#include "helpers/start_methods.hpp"

namespace {

using namespace std::chrono_literals;
using PoolFaults = mp::test::StartMethodTest;

using mp::test::iota;

// Runs a map of 40 items in which item 17 dies by `die`; checks that exactly that task
// fails with WorkerCrashed and the other 39 complete (through imap, which goes on after a
// failed item).
template <class Die>
mp::WorkerCrashed crash_item_17(mp::PoolOptions o, Die die) {
  o.processes = 2;
  mp::Pool pool(o);
  auto results = pool.imap(
      [die](int x) {
        if (x == 17) die();
        return x * 2;
      },
      iota(40), 1);
  std::vector<int> got;
  std::optional<mp::WorkerCrashed> crash;
  for (;;) {
    try {
      auto v = results.next(20s);
      if (!v) break;
      got.push_back(*v);
    } catch (const mp::WorkerCrashed& e) {
      EXPECT_FALSE(crash.has_value()) << "a second crash: " << e.what();
      crash.emplace(e);
    }
  }
  EXPECT_EQ(got.size(), 39u);
  for (int v : got) EXPECT_NE(v, 34);
  EXPECT_TRUE(crash.has_value());
  EXPECT_EQ(crash->task_index(), 17u);
  EXPECT_EQ(pool.map([](int x) { return x; }, iota(10)), iota(10)) << "pool unusable after crash";
  return crash.value_or(mp::WorkerCrashed(0, 0, 0));
}

TEST_P(PoolFaults, Segfault) {
  mp::test::user_sees(
      "A task raises SIGSEGV: `mp::WorkerCrashed` (signal 11, pid, task 17) for that task only; "
      "the other 39 results arrive; the pool goes on");
  const auto e = crash_item_17(options(), [] { ::raise(SIGSEGV); });
  EXPECT_EQ(e.signal(), SIGSEGV);
}

// A real invalid write (a page with no access rights), not a null store: the sanitizer
// build would catch a null store itself and abort instead.
TEST_P(PoolFaults, InvalidMemoryWrite) {
  mp::test::user_sees(
      "A task writes to a protected page: `mp::WorkerCrashed` (SIGSEGV) for that task only");
  const auto e = crash_item_17(options(), [] {
    void* page = ::mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    *static_cast<volatile int*>(page) = 1;
  });
  EXPECT_EQ(e.signal(), SIGSEGV);
}

TEST_P(PoolFaults, Abort) {
  mp::test::user_sees("A task calls `abort()`: `mp::WorkerCrashed` (SIGABRT) for that task only");
  const auto e = crash_item_17(options(), [] { std::abort(); });
  EXPECT_EQ(e.signal(), SIGABRT);
}

TEST_P(PoolFaults, ExitWithStatus) {
  mp::test::user_sees(
      "A task calls `_exit(3)`: `mp::WorkerCrashed` with `exitcode() == 3` for that task only");
  const auto e = crash_item_17(options(), [] { ::_exit(3); });
  EXPECT_EQ(e.signal(), 0);
  EXPECT_EQ(e.exitcode(), 3);
}

TEST_P(PoolFaults, ExitZeroMidTask) {
  mp::test::user_sees(
      "A task calls `exit(0)`: `mp::WorkerCrashed` \"exited with status 0\"; a worker leaving "
      "mid-task is never a result");
#if defined(MP_TEST_ASAN)
  if (GetParam() == mp::StartMethod::fork) {
    // exit() runs LeakSanitizer's check in the worker. A worker forked by the pool's own
    // thread has no copy of the main thread's stack to scan, so what only that stack
    // reaches reads as leaked and the exit status becomes LeakSanitizer's. The plain,
    // clang and ThreadSanitizer builds run this case.
    GTEST_SKIP() << "LeakSanitizer's exit check in a worker forked off the main thread";
  }
#endif
  const auto e = crash_item_17(options(), [] { std::exit(0); });
  EXPECT_EQ(e.exitcode(), 0);
  EXPECT_NE(std::string(e.what()).find("exited with status 0"), std::string::npos) << e.what();
}

TEST_P(PoolFaults, SigkillFromOutside) {
  mp::test::user_sees(
      "A busy worker is SIGKILLed from outside: `mp::WorkerCrashed` (SIGKILL, that pid) for its "
      "task; 100 other tasks complete");
  mp::test::SharedCounters running(1);
  mp::Pool pool(options(2));
  const auto report = running.handle();
  auto stuck = pool.apply_async(
      [report](int) {
        report.set(0, ::getpid());
        ::pause();
        return 0;
      },
      0);
  const pid_t victim = running.wait_until_set(0, 10s);
  ASSERT_NE(victim, 0) << "the task did not start";
  auto others = pool.map_async([](int x) { return x + 1; }, iota(100), 1);
  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  try {
    stuck.get();
    FAIL() << "no crash reported";
  } catch (const mp::WorkerCrashed& e) {
    EXPECT_EQ(e.pid(), victim);
    EXPECT_EQ(e.signal(), SIGKILL);
  }
  EXPECT_EQ(std::move(others).get().back(), 100);
}

TEST_P(PoolFaults, InfiniteLoopStoppedByTimeout) {
  mp::test::user_sees(
      "A task loops forever under `task_timeout = 200ms`: `mp::TimeoutError`; the worker is "
      "replaced");
  mp::PoolOptions o = options(2);
  o.task_timeout = 200ms;
  mp::Pool pool(o);
  auto r = pool.apply_async(
      [](int) {
        volatile unsigned long spin = 0;
        for (;;) spin = spin + 1;
        return 0;
      },
      0);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(r.get(), mp::TimeoutError);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(pool.apply([](int x) { return x; }, 5), 5);
}

TEST_P(PoolFaults, TimeoutIsEnforcedWhileTheCallerIsAway) {
  mp::test::user_sees(
      "A task hangs under `task_timeout = 200ms` while the caller does other work for a second: "
      "the worker is stopped after ~0.2 s all the same (no CPU burnt meanwhile); the caller's "
      "next `get()` throws `mp::TimeoutError` and the pool goes on");
  mp::test::SharedCounters running(1);
  mp::PoolOptions o = options(1);
  o.task_timeout = 200ms;
  mp::Pool pool(o);
  const auto report = running.handle();
  auto stuck = pool.apply_async(
      [report](int) {
        report.set(0, ::getpid());
        volatile unsigned long spin = 0;
        for (;;) spin = spin + 1;
        return 0;
      },
      0);
  // Away from the pool: no Pool call while the task spins past its timeout.
  const pid_t worker = running.wait_until_set(0, 10s);
  ASSERT_NE(worker, 0) << "the task did not start";
  std::this_thread::sleep_for(1s);
  const char state = mp::test::process_state(worker);
  EXPECT_TRUE(state == 0 || state == 'Z') << "worker " << worker << " still runs (" << state << ")";
  EXPECT_THROW(stuck.get(), mp::TimeoutError);
  EXPECT_EQ(pool.apply([](int x) { return x + 1; }, 1), 2);
}

TEST_P(PoolFaults, TimeoutSetPerCall) {
  mp::test::user_sees(
      "`pool.set_task_timeout(200ms)` before one call: that call's hanging argument fails with "
      "`mp::TimeoutError`; a call submitted before it, and one after `set_task_timeout(0s)`, "
      "run 400 ms tasks to completion");
  mp::Pool pool(options(2));
  auto slow_before = pool.apply_async(
      [](int x) {
        ::usleep(400'000);
        return x;
      },
      1);
  pool.set_task_timeout(200ms);
  EXPECT_EQ(pool.task_timeout(), 200ms);
  auto limited = pool.apply_async(
      [](int) {
        ::pause();
        return 0;
      },
      2);
  EXPECT_THROW(limited.get(), mp::TimeoutError);
  EXPECT_EQ(slow_before.get(), 1) << "a call keeps the timeout it was submitted with";
  pool.set_task_timeout(0s);
  EXPECT_EQ(pool.apply(
                [](int x) {
                  ::usleep(400'000);
                  return x;
                },
                3),
            3);
  EXPECT_THROW(pool.set_task_timeout(-1ms), std::invalid_argument);
}

// The timeout is per argument: inside a merged message (chunksize 1 over tiny tasks) or a
// chunk of 10, only the argument that hangs fails; the others of its message run in the
// replacement.
void expect_only_item_times_out(mp::PoolOptions o, int chunksize, int stuck) {
  o.processes = 2;
  o.task_timeout = 300ms;
  mp::Pool pool(o);
  auto results = pool.imap(
      [stuck](int x) {
        if (x == stuck) ::pause();
        return x;
      },
      iota(2000), chunksize);
  const auto got = mp::test::drain<mp::TimeoutError>(results);
  EXPECT_EQ(got.failures.size(), 1u);
  for (const auto& e : got.failures) {
    EXPECT_NE(std::string(e.what()).find("task " + std::to_string(stuck)), std::string::npos)
        << e.what();
  }
  std::vector<int> want = iota(2000);
  want.erase(want.begin() + stuck);
  EXPECT_EQ(got.values, want);
}

TEST_P(PoolFaults, TimeoutInsideAMergedMessageFailsOnlyThatArgument) {
  mp::test::user_sees(
      "One argument hangs among 2000 tiny ones (chunksize 1, auto batching on): `mp::TimeoutError` "
      "for that argument only, 1999 results");
  expect_only_item_times_out(options(), 1, 1234);
}

TEST_P(PoolFaults, TimeoutInsideAChunkFailsOnlyThatArgument) {
  mp::test::user_sees(
      "One argument hangs inside a chunk of 10: `mp::TimeoutError` for that argument only; the "
      "rest of its chunk runs in the replacement");
  expect_only_item_times_out(options(), 10, 15);
}

struct CrashesWhileSerializing {
  std::vector<char> bulk;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(bulk);
    ::raise(SIGSEGV);  // after most of the bytes are written
  }
};

TEST_P(PoolFaults, CrashWhileResultIsHalfWrittenIsNeverAPartialResult) {
  mp::test::user_sees(
      "A worker dies while writing an 8 MiB result: `mp::WorkerCrashed`, never a partial result");
  mp::Pool pool(options(1));
  auto r = pool.apply_async(
      [](std::size_t n) { return CrashesWhileSerializing{std::vector<char>(n, 'x')}; },
      std::size_t{8} << 20);
  EXPECT_THROW(r.get(), mp::WorkerCrashed);
  EXPECT_EQ(pool.apply([](int x) { return x * 3; }, 3), 9);
}

// Pools that fork their workers reuse the memory of ended pools: what a killed worker
// left half-written there must not reach the next pool.
TEST_P(PoolFaults, APoolAfterOneWhoseWorkerDiedMidWriteStartsClean) {
  mp::test::user_sees(
      "A pool ends after its worker died writing an 8 MiB result and a task was left half "
      "sent; the next pools (which may reuse its memory) return every result of 8 MiB and "
      "small maps exactly");
  {
    mp::Pool pool(options(2));
    auto big = pool.apply_async(
        [](std::size_t n) { return CrashesWhileSerializing{std::vector<char>(n, 'x')}; },
        std::size_t{8} << 20);
    EXPECT_THROW(big.get(), mp::WorkerCrashed);
    auto slow = pool.map_async([](int x) { return x; }, iota(100000), 1);
    pool.terminate();
  }
  for (int round = 0; round < 3; ++round) {
    mp::Pool pool(options(2));
    const std::vector<std::string> big = pool.map(
        [](int i) { return std::string(std::size_t{8} << 20, static_cast<char>('a' + i)); },
        iota(4), 1);
    ASSERT_EQ(big.size(), 4u);
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(big[i], std::string(std::size_t{8} << 20, static_cast<char>('a' + i)));
    }
    EXPECT_EQ(pool.map([round](int x) { return x * 2 + round; }, iota(20000)), [&] {
      std::vector<int> want = iota(20000);
      for (int& x : want) x = x * 2 + round;
      return want;
    }());
  }
}

// A child forked while the parent keeps an ended pool's memory for reuse makes pools of
// its own, at the same time as the parent: neither may take memory the other uses.
TEST_P(PoolFaults, AForkedChildsPoolsNeverShareItsParentsMemory) {
  mp::test::user_sees(
      "A program ends a pool, then starts a Process that runs 20 pools while the program "
      "itself runs 20 pools at the same time: every map in both is exact");
  { mp::Pool warm(options(2)); }  // its memory is now kept for the next pool
  auto twenty_pools = [](mp::StartMethod method, int salt) {
    mp::PoolOptions o;
    o.processes = 2;
    o.start_method = method;
    for (int round = 0; round < 20; ++round) {
      mp::Pool pool(o);
      const std::vector<int> got = pool.map([salt](int x) { return x * 10 + salt; }, iota(5000), 7);
      for (int i = 0; i < 5000; ++i) {
        if (got[static_cast<std::size_t>(i)] != i * 10 + salt) return false;
      }
    }
    return true;
  };
  const mp::StartMethod method = GetParam();
  mp::Process child([twenty_pools, method] { ::_exit(twenty_pools(method, 3) ? 0 : 5); });
  child.set_start_method(mp::StartMethod::fork);
  child.start();
  EXPECT_TRUE(twenty_pools(method, 1));
  child.join();
  EXPECT_EQ(child.exitcode(), 0);
}

TEST_P(PoolFaults, ThousandCrashesInARowLeakNothing) {
  mp::test::user_sees(
      "1000 worker crashes in a row: each is `mp::WorkerCrashed`; the parent's fd count is "
      "unchanged and its RSS grows < 2 MiB");
  mp::Pool pool(options(2));
  auto rss_kib = [] {
    std::ifstream f("/proc/self/status");
    std::string key;
    long value = 0;
    while (f >> key) {
      if (key == "VmRSS:") {
        f >> value;
        return value;
      }
      f.ignore(1 << 12, '\n');
    }
    return 0L;
  };
  // Warm up: the first crashes allocate the bookkeeping that later ones reuse.
  for (int i = 0; i < 20; ++i) {
    EXPECT_THROW(pool.apply([](int) -> int { ::_exit(9); }, i), mp::WorkerCrashed);
  }
  const int fds = mp::test::count_open_fds();
  const long rss = rss_kib();
  for (int i = 0; i < mp::test::kChildrenInARow; ++i) {
    ASSERT_THROW(pool.apply(
                     [](int) -> int {
                       ::raise(SIGKILL);
                       return 0;
                     },
                     i),
                 mp::WorkerCrashed);
  }
  EXPECT_EQ(mp::test::count_open_fds(), fds);
#if defined(MP_TEST_SANITIZED)
  // The sanitizers hold freed memory in quarantine (up to 256 MiB) instead of reusing
  // it, so RSS grows with any allocation, leaked or not; LeakSanitizer checks leaks here,
  // and the plain builds check RSS.
  (void)rss;
#else
  EXPECT_LT(rss_kib() - rss, 2048) << "RSS grew by more than 2 MiB over 1000 crashes";
#endif
  EXPECT_EQ(pool.apply([](int x) { return x; }, 1), 1);
}

// The parent is SIGKILLed while its pool is busy: the workers must die with it. The
// probe becomes a child subreaper so the orphaned workers are handed to it and it can see
// them go.
TEST_P(PoolFaults, WorkersDieWhenTheParentIsKilled) {
  mp::test::user_sees(
      "The parent is SIGKILLed while its pool is busy: every worker dies with it (parent-death "
      "signal, or the fork server ending its children), none is orphaned, no fork server is "
      "left");
  mp::Process probe([] {
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) std::exit(20);
    int fds[2];
    if (::pipe(fds) != 0) std::exit(21);
    const int write_fd = fds[1];
    const mp::StartMethod method = GetParam();
    mp::Process victim([write_fd, method] {
      mp::PoolOptions o;
      o.processes = 2;
      o.start_method = method;
      mp::Pool pool(o);
      const auto pids = pool.pids();
      (void)!::write(write_fd, pids.data(), sizeof(pid_t) * pids.size());
      auto busy = pool.map_async([](int) { return ::sleep(30); }, iota(4), 1);
      ::raise(SIGKILL);
    });
    victim.start();
    pid_t workers[2] = {};
    if (::read(fds[0], workers, sizeof workers) != static_cast<ssize_t>(sizeof workers))
      std::exit(22);
    victim.join();
    if (victim.exitcode() != -SIGKILL) std::exit(23);
    // Both workers must be gone promptly. Forked or spawned, they are orphans handed to
    // this subreaper, killed by their parent-death signal; started by a fork server, the
    // server (an orphan too) kills and reaps them when it sees its caller gone.
    int gone = 0;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (gone < 2 && std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      const pid_t p = ::waitpid(-1, &status, WNOHANG);
      if (p == workers[0] || p == workers[1]) {
        // Killed by the parent-death signal, or, for a worker that had not armed it yet
        // when its parent died, exited with status 1 on finding its parent gone.
        const bool by_signal = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
        const bool by_check = WIFEXITED(status) && WEXITSTATUS(status) == 1;
        if (!by_signal && !by_check) std::exit(24);
      }
      gone = (::kill(workers[0], 0) != 0) + (::kill(workers[1], 0) != 0);
      if (p <= 0) std::this_thread::sleep_for(5ms);
    }
    // Nothing else is left either: the fork server, orphaned with its caller, exits.
    while (!mp::test::child_pids().empty() && std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(-1, nullptr, WNOHANG) <= 0) std::this_thread::sleep_for(5ms);
    }
    if (!mp::test::child_pids().empty()) std::exit(26);
    std::exit(gone == 2 ? 0 : 25);
  });
  probe.start();
  probe.join();
  EXPECT_EQ(probe.exitcode(), 0);
}

TEST_P(PoolFaults, TerminateWhileBusyLeavesNothing) {
  mp::test::user_sees(
      "`pool.terminate()` while tasks run: pending results throw `mp::BrokenPool`; every worker is "
      "gone");
  mp::Pool pool(options(2));
  auto busy = pool.map_async([](int) { return ::sleep(30); }, iota(8), 1);
  const auto pids = pool.pids();
  pool.terminate();
  EXPECT_THROW(std::move(busy).get(), mp::BrokenPool);
  for (pid_t p : pids) EXPECT_NE(::kill(p, 0), 0);
}

// True once `pid` has ended: no such process, or a zombie nobody reaped yet.
bool ended(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
}

// Forks a process that waits forever, records its pid, and then dies by `die` (or
// returns its pid).
template <class Die>
int start_grandchild_then(mp::RawValue<int> pid_out, Die die) {
  const pid_t child = ::fork();
  if (child == 0) {
    for (;;) ::pause();
  }
  pid_out.store(child);
  die();
  return child;
}

TEST_P(PoolFaults, WhatACrashedTaskStartedDiesWithItsWorker) {
  mp::test::user_sees(
      "A task forks a child that would run forever, then crashes: the child is killed with its "
      "worker (the worker leads a process group the pool kills), nothing is left behind");
  mp::RawValue<int> grandchild(0);
  mp::Pool pool(options(1));
  EXPECT_THROW(pool.apply(
                   [](mp::RawValue<int> out) {
                     return start_grandchild_then(out, [] { ::raise(SIGSEGV); });
                   },
                   grandchild),
               mp::WorkerCrashed);
  ASSERT_GT(grandchild.load(), 0);
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  while (!ended(grandchild.load()) && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(ended(grandchild.load())) << "the crashed task's child is still running";
  EXPECT_EQ(pool.apply([](int x) { return x + 1; }, 1), 2);
}

TEST_P(PoolFaults, WhatATaskLeftRunningStopsWithThePool) {
  mp::test::user_sees(
      "A task forks a child that would run forever and returns: closing and joining the pool "
      "kills it (as loky does), nothing is left behind");
  mp::RawValue<int> grandchild(0);
  mp::Pool pool(options(1));
  const int pid = pool.apply(
      [](mp::RawValue<int> out) { return start_grandchild_then(out, [] {}); }, grandchild);
  EXPECT_FALSE(ended(pid));
  pool.close();
  pool.join();
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  while (!ended(pid) && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(ended(pid)) << "a task's child outlived the pool";
}

// A task that closes every descriptor from 3 to 1024, then opens a file of the user's many
// times over, so that the numbers the worker held now name that file.
int close_descriptors_then_reopen(std::string path) {
  for (int fd = 3; fd <= 1024; ++fd) {
    ::close(fd);
  }
  int opened = 0;
  for (int i = 0; i < 64; ++i) {
    opened += ::open(path.c_str(), O_RDWR | O_CLOEXEC) >= 0 ? 1 : 0;
  }
  return opened;
}

std::vector<std::uint8_t> large_result(int seed) {
  std::vector<std::uint8_t> v(std::size_t{4} << 20);
  for (std::size_t i = 0; i < v.size(); i += 4093) v[i] = static_cast<std::uint8_t>(seed + i);
  return v;
}

TEST_P(PoolFaults, ATaskThatClosesTheWorkersDescriptorsTouchesNothingOfTheUsers) {
  mp::test::user_sees(
      "A task closes descriptors 3...1024 and reopens a file of the user's at those numbers: "
      "its large results and the next tasks' arrive whole, the file is not written to, and the "
      "pool goes on (a worker that lost what it needs is replaced)");
  const std::string path = ::testing::TempDir() + "mp-user-file-" + std::to_string(::getpid());
  { std::ofstream(path) << "7 bytes"; }
  mp::Pool pool(options(1));
  EXPECT_EQ(pool.apply(&close_descriptors_then_reopen, path), 64);
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(pool.apply(&large_result, round), large_result(round)) << "round " << round;
    std::vector<int> tripled(100);
    for (int i = 0; i < 100; ++i) tripled[i] = 3 * i;
    EXPECT_EQ(pool.map([](int x) { return x * 3; }, iota(100), 7), tripled);
  }
  std::ifstream in(path, std::ios::binary);
  const std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "7 bytes") << "the pool wrote into a file the task opened";
  std::remove(path.c_str());
}

MP_TEST_ALL_START_METHODS(PoolFaults);

}  // namespace
