// Start methods (fork, forkserver, spawn): the same pool behaves the same whichever way
// its workers start; what differs is who their parent is and what they inherit.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <mp/mp.hpp>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "helpers/hygiene.hpp"
#include "helpers/inputs.hpp"
#include "process/child_boot.hpp"
#include "process/launcher.hpp"

namespace {

using namespace std::chrono_literals;
using mp::test::iota;

class StartMethods : public mp::test::HygieneTest,
                     public ::testing::WithParamInterface<mp::StartMethod> {
 protected:
  mp::PoolOptions options(int processes) const {
    mp::PoolOptions o;
    o.processes = processes;
    o.start_method = GetParam();
    return o;
  }
};

std::string method_name(const ::testing::TestParamInfo<mp::StartMethod>& info) {
  return std::string(mp::to_string(info.param));
}

int g_configured = 0;
void configure(int value, std::string tag) { g_configured = value + static_cast<int>(tag.size()); }

TEST_P(StartMethods, EveryCallFormGivesTheSameResults) {
  mp::Pool pool(options(2));
  std::vector<int> want;
  for (int x : iota(1000)) want.push_back(x * x);
  EXPECT_EQ(pool.map([](int x) { return x * x; }, iota(1000)), want);
  EXPECT_EQ(pool.map([](int x) { return x * x; }, iota(1000), 7), want);
  std::multiset<int> unordered;
  for (int y : pool.imap_unordered([](int x) { return x * x; }, iota(1000), 16))
    unordered.insert(y);
  EXPECT_EQ(unordered, std::multiset<int>(want.begin(), want.end()));
  EXPECT_EQ(
      pool.apply([](std::string s, int n) { return s + std::to_string(n); }, std::string("n="), 5),
      "n=5");
  std::vector<std::pair<int, int>> pairs{{2, 3}, {4, 5}};
  EXPECT_EQ(pool.starmap([](int a, int b) { return a * b; }, pairs), (std::vector<int>{6, 20}));
  pool.close();
  pool.join();
}

TEST_P(StartMethods, InitializerWithArgumentsRunsInEveryWorker) {
  auto o = options(2);
  o.initializer = mp::bind_initializer(configure, 40, std::string("ab"));
  mp::Pool pool(o);
  for (int v : pool.map([](int) { return g_configured; }, iota(20), 1)) EXPECT_EQ(v, 42);
}

TEST_P(StartMethods, ExceptionsAndCrashesAreAttributedAsWithFork) {
  mp::Pool pool(options(2));
  EXPECT_THROW(pool.apply([](int) -> int { throw std::out_of_range("seven"); }, 7),
               std::out_of_range);
  try {
    pool.map(
        [](int x) {
          if (x == 5) ::raise(SIGSEGV);
          return x;
        },
        iota(10), 1);
    ADD_FAILURE() << "no exception";
  } catch (const mp::WorkerCrashed& e) {
    EXPECT_EQ(e.signal(), SIGSEGV);
    EXPECT_EQ(e.task_index(), 5u);
  }
  EXPECT_EQ(pool.map([](int x) { return x; }, iota(10)), iota(10)) << "replacement works";
}

TEST_P(StartMethods, WhoStartsTheWorkers) {
  mp::Pool pool(options(2));
  const std::vector<pid_t> pids = pool.pids();
  for (pid_t pid : pids) {
    const pid_t parent = mp::test::parent_pid_of(pid);
    switch (GetParam()) {
      case mp::StartMethod::forkserver:
        EXPECT_EQ(parent, mp::process::fork_server_pid()) << "worker " << pid;
        EXPECT_NE(parent, ::getpid());
        break;
      default:
        EXPECT_EQ(parent, ::getpid()) << "worker " << pid;
    }
  }
  // A worker reports its own pid and its name.
  const auto who = pool.apply([](int) { return ::getpid(); }, 0);
  EXPECT_TRUE(who == pids[0] || who == pids[1]);
  const auto name = pool.apply([](int) { return mp::current_process().name(); }, 0);
  EXPECT_EQ(name.rfind("PoolWorker-", 0), 0u) << name;
}

TEST_P(StartMethods, MaxtasksperchildReplacesWorkers) {
  auto o = options(1);
  o.maxtasksperchild = 1;
  mp::Pool pool(o);
  std::set<pid_t> seen;
  for (pid_t p : pool.map([](int) { return ::getpid(); }, iota(5), 1)) seen.insert(p);
  EXPECT_EQ(seen.size(), 5u);
}

TEST_P(StartMethods, AnUnsendableInitializerIsRejectedUnlessForked) {
  auto o = options(1);
  std::string captured = "a string is not trivially copyable";
  o.initializer = [captured] { (void)captured.size(); };
  if (GetParam() == mp::StartMethod::fork) {
    mp::Pool pool(o);
    EXPECT_EQ(pool.apply([](int x) { return x; }, 3), 3);
  } else {
    EXPECT_THROW(mp::Pool pool(o), std::invalid_argument);
  }
}

TEST_P(StartMethods, LargePayloadsBothWays) {
  mp::Pool pool(options(2));
  std::vector<double> big(8 << 20, 1.5);  // 64 MiB
  const auto back = pool.apply([](const std::vector<double>& v) { return v; }, big);
  EXPECT_EQ(back, big);
}

void exit_with_sum(std::string word, int n) { std::exit(static_cast<int>(word.size()) + n); }

TEST_P(StartMethods, ProcessTargetAndArgumentsTravel) {
  mp::Process p(exit_with_sum, "first", 4);  // a string literal travels as a std::string
  p.set_start_method(GetParam());
  p.start();
  ASSERT_TRUE(p.join(20s));
  EXPECT_EQ(p.exitcode(), 9);
  mp::Process named(
      [](std::string want) { std::exit(mp::current_process().name() == want ? 0 : 1); },
      std::string("Worker-A"));
  named.set_name("Worker-A");
  named.set_start_method(GetParam());
  named.start();
  named.join();
  EXPECT_EQ(named.exitcode(), 0) << "the child knows its name";
}

TEST_P(StartMethods, AnUnsendableProcessTargetIsRejectedUnlessForked) {
  const std::string captured = "not trivially copyable";
  mp::Process p([captured] { std::exit(static_cast<int>(captured.size())); });
  p.set_start_method(GetParam());
  if (GetParam() == mp::StartMethod::fork) {
    p.start();
    p.join();
    EXPECT_EQ(p.exitcode(), static_cast<int>(captured.size()));
  } else {
    EXPECT_THROW(p.start(), std::invalid_argument);
    EXPECT_EQ(p.pid(), 0);
  }
}

// A program that closed its standard streams gets 0, 1 and 2 back from its next opens;
// mp's shared memory and pipes must not land there (a worker's stderr would write into
// them), with any start method.
TEST_P(StartMethods, WorksWhenTheCallerClosedItsStandardStreams) {
  mp::Process child(
      [](mp::StartMethod method) {
        ::close(0);
        ::close(1);
        ::close(2);
        // A Process target that prints to stdout and throws: its output must not reach the
        // pipe that carries its exception back.
        mp::Process p([] {
          std::printf("printed by the target\n");
          std::fflush(stdout);
          throw std::runtime_error("boom");
        });
        p.set_start_method(method);
        p.start();
        p.join();
        bool ok = p.exitcode() == 1;
        try {
          std::rethrow_exception(p.exception());
        } catch (const mp::RemoteError& e) {
          ok = ok && e.type() == "std::runtime_error" && e.message() == "boom";
        } catch (...) {
          ok = false;
        }
        // Tasks that print to stdout and stderr must not write into the pool's shared memory.
        mp::PoolOptions o;
        o.processes = 2;
        o.start_method = method;
        mp::Pool pool(o);
        const auto ys = pool.map(
            [](int x) {
              std::fprintf(stdout, "task %d writes a line to stdout\n", x);
              std::fprintf(stderr, "task %d writes a line to stderr\n", x);
              std::fflush(nullptr);
              return x * 2;
            },
            iota(1000), 7);
        ok = ok && std::accumulate(ys.begin(), ys.end(), 0) == 999000;
        std::_Exit(ok ? 0 : 1);
      },
      GetParam());
  child.start();
  if (!child.join(30s)) {
    child.kill();
    child.join();
  }
  EXPECT_EQ(child.exitcode(), 0);
}

INSTANTIATE_TEST_SUITE_P(, StartMethods,
                         ::testing::Values(mp::StartMethod::fork, mp::StartMethod::forkserver,
                                           mp::StartMethod::spawn),
                         method_name);

using StartMethodChoice = mp::test::HygieneTest;

TEST_F(StartMethodChoice, GetContextMakesPoolsAndProcessesOfItsMethod) {
  auto ctx = mp::get_context("spawn");
  EXPECT_EQ(ctx.start_method(), mp::StartMethod::spawn);
  mp::Pool pool = ctx.pool(2);
  EXPECT_EQ(pool.map([](int x) { return x * 2; }, iota(5)), (std::vector<int>{0, 2, 4, 6, 8}));
  mp::Process p = ctx.process([](int code) { std::exit(code); }, 5);
  EXPECT_EQ(p.start_method(), mp::StartMethod::spawn);
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 5);
  EXPECT_THROW(mp::get_context("threads"), std::invalid_argument);
}

// The fork server is one per program: threads that each run their own pool share it
// (each request and each relayed exit status under its lock).
TEST_F(StartMethodChoice, ThreadsShareTheForkServer) {
  std::vector<int> sums(3, 0);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < sums.size(); ++t) {
    threads.emplace_back([t, &sums] {
      mp::PoolOptions o;
      o.processes = 2;
      o.start_method = mp::StartMethod::forkserver;
      o.maxtasksperchild = 2;  // workers come and go: launches and exits interleave
      mp::Pool pool(o);
      const auto ys = pool.map([](int x) { return x + 1; }, iota(40), 1);
      sums[t] = std::accumulate(ys.begin(), ys.end(), 0);
    });
  }
  for (auto& th : threads) th.join();
  for (int s : sums) EXPECT_EQ(s, 820);
}

TEST_F(StartMethodChoice, NamesAreParsedAndBadNamesRejected) {
  EXPECT_EQ(mp::start_method_from_name("forkserver"), mp::StartMethod::forkserver);
  EXPECT_EQ(mp::start_method_from_name("spawn"), mp::StartMethod::spawn);
  EXPECT_EQ(mp::start_method_from_name("fork"), mp::StartMethod::fork);
  EXPECT_THROW(mp::start_method_from_name("vfork"), std::invalid_argument);
}

TEST(ChildRequest, OnlyAWholeWellFormedValueIsAccepted) {
  const auto ok = mp::process::parse_child_request("pool-worker:5:1234");
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->role, "pool-worker");
  EXPECT_EQ(ok->blob_fd, 5);
  EXPECT_EQ(ok->parent, 1234);
  // atoi read each of these as a number (often fd 0, the child's stdin, as the blob).
  for (const char* bad : {"pool-worker", "pool-worker:5", ":5:1234", "pool-worker:x:1234",
                          "pool-worker:5:", "pool-worker:-1:1234", "pool-worker:5:0",
                          "pool-worker:5x:1234", "pool-worker:99999999999:1234"}) {
    EXPECT_FALSE(mp::process::parse_child_request(bad).has_value()) << bad;
  }
}

}  // namespace
