// Faults of the start machinery itself: a caller with threads (its workers are still
// forks of it), a fork server that dies. HygieneTest checks children, fds and /dev/shm after each.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mp/mp.hpp>
#include <optional>
#include <stdexcept>
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

// Filled by the test body, after mp::init: a worker that is not a fork of the caller as it
// is now (one from the fork server, whose image is the program at mp::init) sees zeros.
std::vector<int> g_table;

int lookup(int i) { return g_table.empty() ? -1 : g_table[static_cast<std::size_t>(i)]; }

// What the test writes to stderr meanwhile.
class StderrCapture {
 public:
  StderrCapture() : saved_(::dup(2)) {
    std::fflush(stderr);
    FILE* f = std::tmpfile();
    file_ = f;
    ::dup2(::fileno(f), 2);
  }
  ~StderrCapture() {
    restore();
    std::fclose(file_);
  }
  std::string text() {
    restore();
    std::string out;
    std::rewind(file_);
    char buf[512];
    while (std::size_t n = std::fread(buf, 1, sizeof buf, file_)) {
      out.append(buf, n);
    }
    return out;
  }

 private:
  void restore() {
    if (saved_ >= 0) {
      std::fflush(stderr);
      ::dup2(saved_, 2);
      ::close(saved_);
      saved_ = -1;
    }
  }
  int saved_;
  FILE* file_;
};

TEST_F(StartMethodFaults, ForkWithThreadsStillForksTheCaller) {
  mp::test::user_sees(
      "A pool with start method fork is created while the program runs another thread: its "
      "workers are forks of the caller all the same and see data built after `mp::init` (a "
      "note on stderr names the lock risk once); an initializer that cannot be sent works too");
  g_table = {10, 20, 30};
  BusyThread other;
  ASSERT_GE(mp::process::thread_count(), 2);
  StderrCapture err;
  mp::PoolOptions o;
  o.processes = 2;
  std::string captured = "x";
  o.initializer = [captured] { (void)captured.size(); };  // not sendable: needs a fork
  mp::Pool pool(o);
  for (pid_t pid : pool.pids()) {
    EXPECT_EQ(mp::test::parent_pid_of(pid), ::getpid()) << "worker " << pid;
  }
  EXPECT_EQ(pool.map(lookup, std::vector<int>{0, 1, 2}), (std::vector<int>{10, 20, 30}));
  mp::Pool second(2);
  EXPECT_EQ(second.map(lookup, std::vector<int>{2}), (std::vector<int>{30}));
  const std::string text = err.text();
  EXPECT_NE(text.find("other thread"), std::string::npos) << text;
  EXPECT_EQ(text.find("other thread"), text.rfind("other thread")) << "warned twice: " << text;
}

TEST_F(StartMethodFaults, TheLibrarysOwnThreadsAreNotTheProgramsThreads) {
  mp::test::user_sees(
      "Pools (each with its own thread) exist when another fork pool or `Process` starts: no "
      "warning, and the workers see data built after `mp::init`");
  g_table = {1, 2, 3};
  StderrCapture err;
  mp::Pool first(1);
  mp::Pool second(1);
  ASSERT_GE(mp::process::thread_count(), 3);
  mp::Pool third(2);
  EXPECT_EQ(third.map(lookup, std::vector<int>{0, 1, 2}), (std::vector<int>{1, 2, 3}));
  mp::Process p([] {
    if (lookup(2) != 3) ::_exit(9);
  });
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  const std::string text = err.text();
  EXPECT_EQ(text.find("thread"), std::string::npos) << text;
}

TEST_F(StartMethodFaults, PoolsStartedOneAfterAnotherWarnOfNoThread) {
  mp::test::user_sees(
      "A single-threaded program starts 200 fork pools one after another, each as soon as "
      "the last one is gone: no warning about other threads (an ended pool's thread may "
      "still be exiting, and is not the program's)");
  g_table = {7};
  StderrCapture err;
  for (int i = 0; i < 200; ++i) {
    mp::Pool pool(2);
    ASSERT_EQ(pool.apply(lookup, 0), 7);
  }
  const std::string text = err.text();
  EXPECT_EQ(text.find("thread"), std::string::npos) << text;
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

// Waits for `go`, then ends as `how` says: 0 return, 1 throw, 3 exit(3), 4 _exit(4).
void end_after_go(mp::RawValue<int> go, int how) {
  while (go.load() == 0) std::this_thread::sleep_for(1ms);
  if (how == 1) throw std::runtime_error("thrown after the server died");
  if (how == 3) std::exit(3);
  if (how == 4) ::_exit(4);
}

TEST_F(StartMethodFaults, AProcessThatOutlivesItsForkServerReportsItsRealExit) {
  mp::test::user_sees(
      "The fork server is SIGKILLed while non-daemon Processes it started still run: each "
      "reports how it really ended (returned 0, threw 1 with its exception, exit(3) 3); one "
      "that ended by _exit says its status is unknown, none is reported killed by a signal");
  mp::RawValue<int> go(0);
  std::vector<mp::Process> children;
  for (int how : {0, 1, 3, 4}) {
    children.emplace_back(&end_after_go, go, how);
    children.back().set_start_method(mp::StartMethod::forkserver);
    children.back().start();
  }
  const pid_t server = mp::process::fork_server_pid();
  ASSERT_GT(server, 0);
  ASSERT_EQ(::kill(server, SIGKILL), 0);
  while (mp::test::process_state(server) != 'Z') {
    std::this_thread::sleep_for(1ms);
  }
  go.store(1);
  for (auto& c : children) ASSERT_TRUE(c.join(20s)) << c.name();
  EXPECT_EQ(children[0].exitcode(), 0);
  EXPECT_EQ(children[0].exception(), nullptr);
  EXPECT_EQ(children[1].exitcode(), 1);
  try {
    std::rethrow_exception(children[1].exception());
  } catch (const mp::RemoteError& e) {
    EXPECT_NE(std::string(e.what()).find("thrown after the server died"), std::string::npos);
  } catch (...) {
    ADD_FAILURE() << "the exception of the Process that threw is not a RemoteError";
  }
  EXPECT_EQ(children[2].exitcode(), 3);
  EXPECT_EQ(children[2].exception(), nullptr);
  EXPECT_EQ(children[3].exitcode(), std::nullopt);
  try {
    std::rethrow_exception(children[3].exception());
  } catch (const mp::WorkerCrashed& e) {
    ADD_FAILURE() << "reported as a crash: " << e.what();
  } catch (const mp::Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown"), std::string::npos) << e.what();
  }
}

}  // namespace
