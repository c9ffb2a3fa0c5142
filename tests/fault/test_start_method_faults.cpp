// Faults of the start machinery itself: a caller with threads (fork is never used from
// it), a fork server that dies. HygieneTest checks children, fds and /dev/shm after each.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mp/mp.hpp>
#include <string>
#include <thread>
#include <vector>

#include "helpers/hygiene.hpp"
#include "helpers/inputs.hpp"
#include "helpers/start_methods.hpp"
#include "process/child.hpp"
#include "process/launcher.hpp"

namespace {

using namespace std::chrono_literals;
using mp::test::iota;
using StartMethodFaults = mp::test::HygieneTest;

// A thread that waits until told to stop, so that the process has two threads.
class BusyThread {
 public:
  BusyThread()
      : t_([this] {
          while (!stop_) std::this_thread::sleep_for(1ms);
        }) {}
  ~BusyThread() {
    stop_ = true;
    t_.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::thread t_;
};

TEST_F(StartMethodFaults, ForkIsNotUsedWhenTheCallerHasThreads) {
  mp::test::user_sees(
      "A pool with start method fork is created while the caller has another thread: its "
      "workers come from the fork server instead (a note on stderr says so); results as usual");
  BusyThread other;
  ASSERT_GE(mp::process::thread_count(), 2);
  mp::Pool pool(2);  // start method fork
  for (pid_t pid : pool.pids()) {
    EXPECT_EQ(mp::test::parent_pid_of(pid), mp::process::fork_server_pid())
        << "worker " << pid << " was forked from a process with threads";
  }
  EXPECT_EQ(pool.map([](int x) { return x + 1; }, iota(100)).back(), 100);
}

TEST_F(StartMethodFaults, ForkWithThreadsAndAnUnsendableInitializerIsAClearError) {
  mp::test::user_sees(
      "The same, with an initializer that cannot be sent (a lambda capturing a std::string): "
      "`std::logic_error` from the constructor naming the threads, no worker forked");
  BusyThread other;
  mp::PoolOptions o;
  o.processes = 1;
  std::string captured = "x";
  o.initializer = [captured] { (void)captured.size(); };
  try {
    mp::Pool pool(o);
    ADD_FAILURE() << "no exception";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("threads"), std::string::npos) << e.what();
  }
}

TEST_F(StartMethodFaults, AKilledForkServerIsReplacedWithItsWorkers) {
  mp::test::user_sees(
      "The fork server is SIGKILLed under an idle pool: its workers die with it, the pool "
      "starts replacements from a new server, and the next calls return every result");
  mp::Pool pool(mp::test::options_for(mp::StartMethod::forkserver, 2));
  EXPECT_EQ(pool.map([](int x) { return x; }, iota(10)), iota(10));
  const pid_t server = mp::process::fork_server_pid();
  ASSERT_GT(server, 0);
  const std::vector<pid_t> workers = pool.pids();
  ::kill(server, SIGKILL);
  // Its workers die with it (parent-death signal).
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  for (pid_t w : workers) {
    while (::kill(w, 0) == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
    EXPECT_NE(::kill(w, 0), 0) << "worker " << w << " outlived its fork server";
  }
  // The pool replaces them from a new server; nothing was running, so nothing fails.
  std::size_t ok = 0;
  std::size_t crashed = 0;
  auto results = pool.imap([](int x) { return x; }, iota(50), 1);
  for (;;) {
    try {
      auto v = results.next(20s);
      if (!v) break;
      ++ok;
    } catch (const mp::WorkerCrashed&) {
      ++crashed;
    }
  }
  EXPECT_EQ(ok, 50u);
  EXPECT_EQ(crashed, 0u);
  EXPECT_NE(mp::process::fork_server_pid(), server);
  EXPECT_EQ(pool.map([](int x) { return x * 3; }, iota(10)).back(), 27);
}

TEST_F(StartMethodFaults, APoolCreatedAfterTheForkServerDiedGetsANewOne) {
  mp::test::user_sees(
      "The fork server is SIGKILLed while no pool uses it: the next forkserver pool starts a "
      "new server and works; nothing is reported to the caller");
  const mp::PoolOptions o = mp::test::options_for(mp::StartMethod::forkserver, 2);
  { mp::Pool first(o); }
  const pid_t server = mp::process::fork_server_pid();
  ASSERT_GT(server, 0);
  ASSERT_EQ(::kill(server, SIGKILL), 0);
  while (mp::test::process_state(server) != 'Z') {
    std::this_thread::sleep_for(1ms);  // dead, not yet reaped by its parent (this test)
  }
  mp::Pool second(o);
  EXPECT_EQ(second.map([](int x) { return x * x; }, iota(10)).back(), 81);
  EXPECT_NE(mp::process::fork_server_pid(), server);
}

}  // namespace
