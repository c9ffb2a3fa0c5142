// mp::Process: start, join, exit codes, exceptions, signals, names.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <mp/mp.hpp>
#include <stdexcept>
#include <thread>

#include "helpers/hygiene.hpp"

namespace {

using namespace std::chrono_literals;
using ProcessTest = mp::test::HygieneTest;

TEST_F(ProcessTest, RunsTargetWithArgumentsAndExitsZero) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  mp::Process p(
      [](int fd, std::string word, long n) {
        const std::string msg = word + std::to_string(n);
        (void)!::write(fd, msg.data(), msg.size());
      },
      pipe_fds[1], std::string("first"), 42L);
  EXPECT_EQ(p.pid(), 0);
  EXPECT_FALSE(p.exitcode().has_value());
  p.start();
  EXPECT_GT(p.pid(), 0);
  EXPECT_NE(p.pid(), ::getpid());
  p.join();
  ::close(pipe_fds[1]);
  char buf[32] = {};
  EXPECT_EQ(::read(pipe_fds[0], buf, sizeof buf), 7);
  ::close(pipe_fds[0]);
  EXPECT_STREQ(buf, "first42");
  EXPECT_EQ(p.exitcode(), 0);
  EXPECT_FALSE(p.is_alive());
  EXPECT_EQ(p.exception(), nullptr);
}

TEST_F(ProcessTest, ExceptionInTargetGivesExitCodeOneAndRemoteError) {
  mp::Process p([] { throw std::out_of_range("index 7 past the end"); });
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 1);
  ASSERT_NE(p.exception(), nullptr);
  try {
    std::rethrow_exception(p.exception());
  } catch (const mp::RemoteError& e) {
    EXPECT_EQ(e.type(), "std::out_of_range");
    EXPECT_EQ(e.message(), "index 7 past the end");
    EXPECT_EQ(e.pid(), p.pid());
  }
}

TEST_F(ProcessTest, ExitStatusIsReported) {
  mp::Process p([] { std::exit(3); });
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 3);
}

TEST_F(ProcessTest, TerminateAndKillGiveNegativeSignal) {
  mp::Process a([] { ::pause(); });
  mp::Process b([] { ::pause(); });
  a.start();
  b.start();
  EXPECT_TRUE(a.is_alive());
  a.terminate();
  b.kill();
  a.join();
  b.join();
  EXPECT_EQ(a.exitcode(), -SIGTERM);
  EXPECT_EQ(b.exitcode(), -SIGKILL);
}

TEST_F(ProcessTest, SegfaultIsReportedAsSignal) {
  mp::Process p([] { ::raise(SIGSEGV); });
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), -SIGSEGV);
}

TEST_F(ProcessTest, JoinWithTimeoutReturnsWhileRunning) {
  mp::Process p([] { ::pause(); });
  p.start();
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(p.join(50ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 45ms);
  EXPECT_TRUE(p.is_alive());
  EXPECT_FALSE(p.exitcode().has_value());
  p.kill();
  EXPECT_TRUE(p.join(10s));
}

TEST_F(ProcessTest, ANegativeJoinTimeoutDoesNotWait) {
  // Regression: join(-1s) blocked until the child exited (Python's join(-1) returns).
  mp::Process p([] { ::pause(); });
  p.start();
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(p.join(-1s));
  EXPECT_FALSE(p.join(0s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  p.kill();
  EXPECT_TRUE(p.join(std::chrono::hours::max()));  // no overflow into the past
  EXPECT_EQ(p.exitcode(), -9);
}

TEST_F(ProcessTest, MisuseIsALogicError) {
  mp::Process p([] {});
  EXPECT_THROW(p.join(), std::logic_error);
  p.start();
  EXPECT_THROW(p.start(), std::logic_error);
  EXPECT_THROW(p.set_daemon(true), std::logic_error);
  p.join();
}

TEST_F(ProcessTest, NamesAndCurrentProcess) {
  EXPECT_EQ(mp::current_process().name(), "MainProcess");
  EXPECT_EQ(mp::current_process().pid(), ::getpid());
  mp::Process p([] {
    if (mp::current_process().name() != "worker-a") std::exit(10);
    if (mp::current_process().pid() != ::getpid()) std::exit(11);
  });
  EXPECT_EQ(p.name().rfind("Process-", 0), 0u);
  p.set_name("worker-a");
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

TEST_F(ProcessTest, DestructorKillsDaemonAndWaitsForOthers) {
  pid_t daemon_pid = 0;
  {
    mp::Process d([] { ::pause(); });
    d.set_daemon(true);
    d.start();
    daemon_pid = d.pid();
  }
  EXPECT_NE(::kill(daemon_pid, 0), 0) << "daemon child still exists";
  {
    mp::Process p([] { std::this_thread::sleep_for(20ms); });
    p.start();
  }
  // HygieneTest's TearDown checks that no child is left.
}

TEST(CpuCount, MatchesAffinity) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(::sched_getaffinity(0, sizeof set, &set), 0);
  EXPECT_EQ(mp::cpu_count(), CPU_COUNT(&set));
  EXPECT_GE(mp::cpu_count(), 1);
}

}  // namespace
