// Ctrl-C (SIGINT) and SIGTERM while a caller is blocked in mp. Each scenario runs in its
// own child process (signal actions are process-wide), which reports by its exit code;
// the real signal comes from the test, another process, as from a terminal.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mp/mp.hpp>
#include <numeric>
#include <thread>
#include <type_traits>
#include <vector>

#include "helpers/hygiene.hpp"
#include "helpers/inputs.hpp"
#include "helpers/start_methods.hpp"

namespace {

using namespace std::chrono_literals;
using Interrupts = mp::test::StartMethodTest;
using ProcessInterrupts = mp::test::HygieneTest;

using mp::test::iota;

// Starts `scenario` in a child, waits until it writes one byte to the pipe it is given
// (it is blocked, or about to be), sends `signal`, and returns the child's exit code.
template <class Scenario>
int run_and_signal(int signal, Scenario scenario) {
  int fds[2];
  if (::pipe(fds) != 0) return -1000;
  const int ready_fd = fds[1];
  mp::Process child([ready_fd, scenario] { scenario(ready_fd); });
  child.start();
  ::close(fds[1]);
  char byte = 0;
  const bool ready = ::read(fds[0], &byte, 1) == 1;
  ::close(fds[0]);
  if (ready) {
    std::this_thread::sleep_for(100ms);  // let it reach its blocking wait
    ::kill(child.pid(), signal);
  }
  if (!child.join(20s)) {
    child.kill();
    child.join();
    return -1001;
  }
  return ready ? *child.exitcode() : -1002;
}

void say_ready(int fd) { (void)!::write(fd, "r", 1); }

// In a scenario: exit code 13 if a worker outlived the interrupted pool.
void exit_if_any_alive(const std::vector<pid_t>& workers) {
  for (pid_t w : workers) {
    if (::kill(w, 0) == 0) std::exit(13);
  }
}

TEST_P(Interrupts, SigintDuringMapThrowsAndStopsTheWorkers) {
  mp::test::user_sees(
      "Ctrl-C (SIGINT) during `pool.map`: `mp::Interrupted` within milliseconds; the pool is "
      "terminated, its workers are gone, later calls throw `std::logic_error`");
  const int code = run_and_signal(SIGINT, [m = GetParam()](int ready) {
    mp::Pool pool(mp::test::options_for(m, 2));
    const auto workers = pool.pids();
    say_ready(ready);
    const auto t0 = std::chrono::steady_clock::now();
    try {
      pool.map([](int) { return ::sleep(30); }, iota(4), 1);
      std::exit(10);
    } catch (const mp::Interrupted& e) {
      if (e.signal() != SIGINT) std::exit(11);
    }
    if (std::chrono::steady_clock::now() - t0 > 5s) std::exit(12);  // not prompt
    exit_if_any_alive(workers);
    if (!mp::test::no_child_left()) std::exit(14);
    // The pool was terminated: further use is a clear error, not a hang.
    try {
      pool.map([](int x) { return x; }, iota(2));
      std::exit(15);
    } catch (const std::logic_error&) {
    }
    std::exit(0);
  });
  EXPECT_EQ(code, 0);
}

// A worker keeps a large task's buffer while it runs the task; the next large task for it
// must wait where Ctrl-C is seen, not inside the send.
TEST_P(Interrupts, SigintWhileLargeTasksWaitForTheirWorkerThrows) {
  mp::test::user_sees(
      "Ctrl-C during `pool.map` over 4 MiB arguments, while the only worker runs the first: "
      "`mp::Interrupted`; no worker left");
  const int code = run_and_signal(SIGINT, [m = GetParam()](int ready) {
    mp::Pool pool(mp::test::options_for(m, 1));
    const auto workers = pool.pids();
    const std::vector<std::vector<char>> big(3, std::vector<char>(4 << 20, 'x'));
    say_ready(ready);
    const auto t0 = std::chrono::steady_clock::now();
    try {
      pool.map(
          [](const std::vector<char>& v) {
            ::sleep(30);
            return v.size();
          },
          big, 1);
      std::exit(10);
    } catch (const mp::Interrupted& e) {
      if (e.signal() != SIGINT) std::exit(11);
    }
    if (std::chrono::steady_clock::now() - t0 > 5s) std::exit(12);  // not prompt
    exit_if_any_alive(workers);
    std::exit(mp::test::no_child_left() ? 0 : 14);
  });
  EXPECT_EQ(code, 0);
}

TEST_P(Interrupts, SigtermDuringGetThrows) {
  mp::test::user_sees(
      "SIGTERM during `AsyncResult::get`: `mp::Interrupted` with `signal() == SIGTERM`; no worker "
      "left");
  const int code = run_and_signal(SIGTERM, [m = GetParam()](int ready) {
    mp::Pool pool(mp::test::options_for(m, 1));
    const auto workers = pool.pids();
    auto r = pool.apply_async([](int) { return ::sleep(30); }, 0);
    say_ready(ready);
    try {
      r.get();
      std::exit(10);
    } catch (const mp::Interrupted& e) {
      if (e.signal() != SIGTERM) std::exit(11);
    }
    exit_if_any_alive(workers);
    std::exit(mp::test::no_child_left() ? 0 : 14);
  });
  EXPECT_EQ(code, 0);
}

TEST_P(Interrupts, SigintDuringImapThrows) {
  mp::test::user_sees(
      "Ctrl-C while iterating `imap`: `mp::Interrupted` from the iteration, after the results "
      "already consumed");
  const int code = run_and_signal(SIGINT, [m = GetParam()](int ready) {
    mp::Pool pool(mp::test::options_for(m, 2));
    int seen = 0;
    try {
      for (int y : pool.imap(
               [](int x) {
                 if (x >= 2) ::sleep(30);
                 return x;
               },
               iota(10), 1)) {
        if (++seen == 2) say_ready(ready);
        (void)y;
      }
      std::exit(10);
    } catch (const mp::Interrupted&) {
    }
    std::exit(seen == 2 ? 0 : 16);
  });
  EXPECT_EQ(code, 0);
}

TEST_P(Interrupts, SigintDuringPoolJoinThrows) {
  mp::test::user_sees("Ctrl-C during `pool.join()`: `mp::Interrupted`; no worker left");
  const int code = run_and_signal(SIGINT, [m = GetParam()](int ready) {
    mp::Pool pool(mp::test::options_for(m, 2));
    const auto workers = pool.pids();
    auto busy = pool.map_async([](int) { return ::sleep(30); }, iota(2), 1);
    pool.close();
    say_ready(ready);
    try {
      pool.join();
      std::exit(10);
    } catch (const mp::Interrupted&) {
    }
    exit_if_any_alive(workers);
    std::exit(mp::test::no_child_left() ? 0 : 14);
  });
  EXPECT_EQ(code, 0);
}

TEST_F(ProcessInterrupts, SigintDuringProcessJoinThrows) {
  mp::test::user_sees(
      "Ctrl-C during `Process::join`: `mp::Interrupted`; the child is left running for the caller "
      "to decide");
  const int code = run_and_signal(SIGINT, [](int ready) {
    mp::Process sleeper([] { ::sleep(30); });
    sleeper.start();
    say_ready(ready);
    try {
      sleeper.join();
      std::exit(10);
    } catch (const mp::Interrupted& e) {
      if (e.signal() != SIGINT) std::exit(11);
    }
    // The child was left running, as documented; the caller decides.
    if (!sleeper.is_alive()) std::exit(12);
    sleeper.kill();
    sleeper.join();
    std::exit(sleeper.exitcode() == -SIGKILL ? 0 : 13);
  });
  EXPECT_EQ(code, 0);
}

// Outside a blocking call, a signal keeps its default action: mp swallows nothing.
TEST_P(Interrupts, SignalOutsideAWaitKeepsItsDefaultAction) {
  mp::test::user_sees(
      "SIGINT while no mp call blocks: the default action (the program ends with SIGINT); mp "
      "swallows nothing");
  mp::Process child([m = GetParam()] {
    mp::Pool pool(mp::test::options_for(m, 2));
    if (pool.map([](int x) { return x + 1; }, iota(100)).back() != 100) std::exit(10);
    auto slow = pool.apply_async([](int x) { return x; }, 3);
    if (slow.get() != 3) std::exit(11);
    ::raise(SIGINT);
    std::exit(12);  // not reached: SIGINT's default action ends the process
  });
  child.start();
  ASSERT_TRUE(child.join(20s));
  EXPECT_EQ(child.exitcode(), -SIGINT);
}

// Not an mp::Error, as KeyboardInterrupt is not an Exception: a handler for task
// failures does not swallow Ctrl-C.
static_assert(!std::is_base_of_v<mp::Error, mp::Interrupted>);
static_assert(std::is_base_of_v<std::exception, mp::Interrupted>);

std::atomic<int> g_app_signals{0};

// An application that handles SIGINT itself keeps its handler: the map completes.
TEST_P(Interrupts, ApplicationHandlerIsLeftAlone) {
  mp::test::user_sees(
      "The application's own SIGINT handler runs and the `map` completes: mp only watches signals "
      "left at their default action");
  const int code = run_and_signal(SIGINT, [m = GetParam()](int ready) {
    struct sigaction sa {};
    sa.sa_handler = [](int) { ++g_app_signals; };
    ::sigemptyset(&sa.sa_mask);
    ::sigaction(SIGINT, &sa, nullptr);
    mp::Pool pool(mp::test::options_for(m, 2));
    say_ready(ready);
    const auto ys = pool.map(
        [](int x) {
          ::usleep(100'000);
          return x;
        },
        iota(8), 1);
    if (ys != iota(8)) std::exit(10);
    std::exit(g_app_signals.load() == 1 ? 0 : 11);
  });
  EXPECT_EQ(code, 0);
}

// Ctrl-C from a terminal reaches every process of the foreground group; the workers
// ignore it, so the parent alone decides.
TEST_P(Interrupts, WorkersIgnoreSigint) {
  mp::test::user_sees(
      "SIGINT sent to the workers (as a terminal's Ctrl-C reaches the whole group): they ignore it "
      "and finish their tasks");
  mp::Pool pool(options(2));
  auto r = pool.map_async(
      [](int x) {
        ::usleep(200'000);
        return x;
      },
      iota(4), 1);
  std::this_thread::sleep_for(50ms);
  for (pid_t w : pool.pids()) ::kill(w, SIGINT);
  EXPECT_EQ(std::move(r).get(), iota(4));
}

MP_TEST_ALL_START_METHODS(Interrupts);

}  // namespace
