// mp::Process when its target dies in each way, with real signals and real exits: the
// exit code (Python's convention) and the exception() the parent gets back.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <mp/mp.hpp>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "helpers/hygiene.hpp"
#include "helpers/sanitizers.hpp"
#include "helpers/start_methods.hpp"

namespace {

using namespace std::chrono_literals;
using ProcessFaults = mp::test::StartMethodTest;

// Runs `target` in a Process and returns the crash it reports.
template <class Target>
mp::WorkerCrashed expect_crash(mp::StartMethod method, Target target, int signal) {
  mp::Process p(target);
  p.set_start_method(method);
  p.start();
  EXPECT_TRUE(p.join(20s));
  EXPECT_EQ(p.exitcode(), -signal);
  try {
    if (p.exception() != nullptr) std::rethrow_exception(p.exception());
    ADD_FAILURE() << "no exception for a child killed by signal " << signal;
  } catch (const mp::WorkerCrashed& e) {
    EXPECT_EQ(e.signal(), signal);
    EXPECT_EQ(e.pid(), p.pid());
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "unexpected " << e.what();
  }
  return mp::WorkerCrashed(0, 0, 0);
}

TEST_P(ProcessFaults, Segfault) {
  mp::test::user_sees(
      "A `Process` target segfaults: `exitcode() == -11`, `exception()` is `mp::WorkerCrashed` "
      "naming SIGSEGV");
  const auto e = expect_crash(
      GetParam(),
      [] {
        void* page = ::mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        *static_cast<volatile int*>(page) = 1;
      },
      SIGSEGV);
  EXPECT_NE(std::string(e.what()).find("SIGSEGV"), std::string::npos) << e.what();
}

TEST_P(ProcessFaults, Abort) {
  mp::test::user_sees(
      "A `Process` target aborts: `exitcode() == -6`, `exception()` is `mp::WorkerCrashed`");
  expect_crash(
      GetParam(), [] { std::abort(); }, SIGABRT);
}

TEST_P(ProcessFaults, SigkillFromOutside) {
  mp::test::user_sees(
      "A `Process` is SIGKILLed from outside: `exitcode() == -9`, `exception()` is "
      "`mp::WorkerCrashed`");
  mp::Process p([] { ::pause(); });
  p.set_start_method(GetParam());
  p.start();
  ASSERT_EQ(::kill(p.pid(), SIGKILL), 0);
  ASSERT_TRUE(p.join(20s));
  EXPECT_EQ(p.exitcode(), -SIGKILL);
  EXPECT_THROW(std::rethrow_exception(p.exception()), mp::WorkerCrashed);
}

TEST_P(ProcessFaults, ExitWithStatusIsNotAnException) {
  mp::test::user_sees("A `Process` target calls `_exit(3)`: `exitcode() == 3`, no exception");
  mp::Process p([] { ::_exit(3); });
  p.set_start_method(GetParam());
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 3);
  EXPECT_EQ(p.exception(), nullptr);
}

TEST_P(ProcessFaults, ExceptionComesBackAsRemoteError) {
  mp::test::user_sees(
      "A `Process` target throws: `exitcode() == 1`, `exception()` is `mp::RemoteError` with the "
      "type and message");
  mp::Process p([] { throw std::runtime_error("parser failed on line 3"); });
  p.set_start_method(GetParam());
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 1);
  try {
    std::rethrow_exception(p.exception());
  } catch (const mp::RemoteError& e) {
    EXPECT_EQ(e.type(), "std::runtime_error");
    EXPECT_EQ(e.message(), "parser failed on line 3");
  }
}

TEST_P(ProcessFaults, HugeExceptionMessageComesBackCut) {
  mp::test::user_sees(
      "A `Process` target throws with a 1 MiB message: `join()` returns, `exception()` is "
      "`mp::RemoteError` with the type and the message's first 4 KiB");
  mp::Process p([] { throw std::runtime_error(std::string(1 << 20, 'm')); });
  p.set_start_method(GetParam());
  p.start();
  ASSERT_TRUE(p.join(20s));
  EXPECT_EQ(p.exitcode(), 1);
  try {
    std::rethrow_exception(p.exception());
  } catch (const mp::RemoteError& e) {
    EXPECT_EQ(e.type(), "std::runtime_error");
    EXPECT_GT(e.message().size(), 4000u);
    EXPECT_LT(e.message().size(), 4096u);
    EXPECT_EQ(e.message().find_first_not_of('m'), std::string::npos);
  }
}

TEST_P(ProcessFaults, JoinDoesNotWaitForProcessesTheTargetStarted) {
  mp::test::user_sees(
      "A `Process` target starts a process that outlives it, then throws: `join()` returns "
      "when the target's process ends, with its exception, while the other still runs");
  // The grandchild inherits every fd of the target's process, the error pipe included.
  mp::Process p([] {
    const pid_t grandchild = ::fork();
    if (grandchild == 0) {
      ::sleep(600);
      ::_exit(0);
    }
    throw std::runtime_error(std::to_string(grandchild));
  });
  p.set_start_method(GetParam());
  p.start();
  ASSERT_TRUE(p.join(20s));
  EXPECT_EQ(p.exitcode(), 1);
  pid_t grandchild = 0;
  try {
    std::rethrow_exception(p.exception());
  } catch (const mp::RemoteError& e) {
    grandchild = static_cast<pid_t>(std::stol(e.message()));
  }
  ASSERT_GT(grandchild, 0);
  EXPECT_EQ(::kill(grandchild, 0), 0) << "join() waited for the target's own child to end";
  ::kill(grandchild, SIGKILL);
}

TEST_P(ProcessFaults, InfiniteLoopEndsWithJoinTimeoutAndTerminate) {
  mp::test::user_sees(
      "A `Process` loops forever: `join(100ms)` returns false, `terminate()` ends it with "
      "`exitcode() == -15`");
  mp::Process p([] {
    volatile unsigned long spin = 0;
    for (;;) spin = spin + 1;
  });
  p.set_start_method(GetParam());
  p.start();
  EXPECT_FALSE(p.join(100ms));
  p.terminate();
  ASSERT_TRUE(p.join(20s));
  EXPECT_EQ(p.exitcode(), -SIGTERM);
  EXPECT_EQ(p.exception(), nullptr) << "a stop the caller asked for is no crash";
}

// A daemon child dies with its parent, even when the parent is SIGKILLed (it cannot run
// any clean-up); the probe is a subreaper, so the orphan comes back to it to be seen.
TEST_P(ProcessFaults, DaemonDiesWhenTheParentIsKilled) {
  mp::test::user_sees("The parent of a daemon `Process` is SIGKILLed: the daemon dies with it");
  mp::Process probe([] {
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) std::exit(20);
    int fds[2];
    if (::pipe(fds) != 0) std::exit(21);
    const int write_fd = fds[1];
    const mp::StartMethod method = GetParam();
    mp::Process parent([write_fd, method] {
      mp::Process daemon([] { ::sleep(30); });
      daemon.set_daemon(true);
      daemon.set_start_method(method);
      daemon.start();
      const pid_t pid = daemon.pid();
      (void)!::write(write_fd, &pid, sizeof pid);
      ::raise(SIGKILL);
    });
    parent.start();
    pid_t daemon_pid = 0;
    if (::read(fds[0], &daemon_pid, sizeof daemon_pid) != sizeof daemon_pid) std::exit(22);
    parent.join();
    // The daemon must be gone promptly: an orphan handed to this subreaper, killed by its
    // parent-death signal, or, started by a fork server, killed and reaped by the server
    // when it sees its caller gone. Nothing may be left (the server exits too).
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      const pid_t p = ::waitpid(-1, &status, WNOHANG);
      if (p == daemon_pid) {
        // Killed by the parent-death signal, or, if its parent died before the child
        // armed that signal, exited with status 1 on finding its parent gone.
        const bool by_signal = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
        const bool by_check = WIFEXITED(status) && WEXITSTATUS(status) == 1;
        if (!by_signal && !by_check) std::exit(23);
      }
      if (::kill(daemon_pid, 0) != 0 && mp::test::child_pids().empty()) std::exit(0);
      if (p <= 0) std::this_thread::sleep_for(5ms);
    }
    std::exit(24);
  });
  probe.start();
  probe.join();
  EXPECT_EQ(probe.exitcode(), 0);
}

TEST_P(ProcessFaults, StartWithoutFreeFdsFailsAndLeavesNothing) {
  mp::test::user_sees(
      "`Process::start()` with too few free fds (RLIMIT_NOFILE), at every point where one is "
      "needed: `std::system_error` (EMFILE), no child left running, no fd leaked");
#if defined(MP_TEST_ASAN)
  GTEST_SKIP() << "fd exhaustion starves the sanitizer runtime";
#endif
  if (GetParam() == mp::StartMethod::forkserver) {
    GTEST_SKIP() << "the fork server is started, with its own fds, before the limit is set";
  }
  // More spare fds each round, until the Process starts; every round before must fail
  // cleanly (the limit is set as in PoolErrors.WorkersThatCannotStartFailTheConstructorCleanly).
  for (int spare = 0;; ++spare) {
    ASSERT_LT(spare, 32) << "the Process never started";
    mp::Process probe([spare, method = GetParam()] {
      const std::vector<int> before = mp::test::open_fds();
      const rlimit original = mp::test::leave_spare_fds(spare, before);
      try {
        mp::Process p([] { ::pause(); });
        p.set_start_method(method);
        p.start();
        p.kill();
        p.join();
        std::exit(11);  // started: enough fds
      } catch (const std::system_error& e) {
        if (e.code().value() != EMFILE) std::exit(12);
      }
      if (::setrlimit(RLIMIT_NOFILE, &original) != 0) std::exit(10);
      if (!mp::test::child_pids().empty()) std::exit(13);  // a started child was reaped
      if (mp::test::open_fds() != before) std::exit(14);
      std::exit(0);
    });
    probe.start();
    ASSERT_TRUE(probe.join(20s));
    if (probe.exitcode() == 11) {
      break;
    }
    EXPECT_EQ(probe.exitcode(), 0) << "with " << spare << " spare fds";
  }
}

TEST_P(ProcessFaults, ThousandCrashedProcessesLeakNothing) {
  mp::test::user_sees(
      "1000 `Process` children killed in a row: the parent's fd count is unchanged, no zombie");
  const mp::StartMethod method = GetParam();
  // Warm up: the first start may open what later ones reuse (the fork server's socket).
  mp::Process first([] {});
  first.set_start_method(method);
  first.start();
  first.join();
  const int fds = mp::test::count_open_fds();
  for (int i = 0; i < mp::test::kChildrenInARow; ++i) {
    mp::Process p([] { ::raise(SIGKILL); });
    p.set_start_method(method);
    p.start();
    p.join();
    ASSERT_EQ(p.exitcode(), -SIGKILL);
  }
  EXPECT_EQ(mp::test::count_open_fds(), fds);
}

MP_TEST_ALL_START_METHODS(ProcessFaults);

}  // namespace
