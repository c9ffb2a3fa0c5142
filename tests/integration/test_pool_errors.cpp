// What a caller sees when tasks throw, workers die, inputs fail or initializers fail;
// and that the pool keeps working afterwards.
#include <gtest/gtest.h>
#include <any>
#include <filesystem>
#include <functional>
#include <future>
#include <ios>
#include <memory>
#include <optional>
#include <typeinfo>
#include <variant>

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mp/mp.hpp>
#include <numeric>
#include <ranges>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "helpers/hygiene.hpp"
#include "helpers/inputs.hpp"
#include "helpers/sanitizers.hpp"
#include "helpers/shared_counters.hpp"
#include "helpers/start_methods.hpp"
#include "process/launcher.hpp"

namespace {

using namespace std::chrono_literals;
using PoolErrors = mp::test::HygieneTest;

using mp::test::iota;

struct CustomError : std::exception {
  const char* what() const noexcept override { return "custom failure"; }
};

int fail_on_13(int x) {
  if (x == 13) throw std::invalid_argument("thirteen is unlucky");
  return x;
}

TEST_F(PoolErrors, StandardExceptionsComeBackAsThemselvesWithContext) {
  mp::Pool pool(2);
  try {
    pool.map(fail_on_13, iota(40), 4);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "thirteen is unlucky");
    try {
      std::rethrow_if_nested(e);
      FAIL() << "no nested RemoteError";
    } catch (const mp::RemoteError& remote) {
      EXPECT_EQ(remote.task_index(), 13u);
      EXPECT_EQ(remote.type(), "std::invalid_argument");
      const auto pids = pool.pids();
      EXPECT_NE(std::find(pids.begin(), pids.end(), remote.pid()), pids.end());
    }
  }
  EXPECT_THROW(pool.apply([](int) -> int { throw std::out_of_range("oor"); }, 0),
               std::out_of_range);
  EXPECT_THROW(pool.apply([](int) -> int { throw std::runtime_error("rt"); }, 0),
               std::runtime_error);
  // The pool keeps working after failed calls.
  EXPECT_EQ(pool.map([](int x) { return x * 2; }, iota(5)), (std::vector<int>{0, 2, 4, 6, 8}));
}

// Throws the standard exception numbered `which`.
int throw_standard(int which) {
  switch (which) {
    case 0:
      throw std::bad_alloc();
    case 1:
      throw std::bad_array_new_length();
    case 2:
      throw std::bad_cast();
    case 3:
      throw std::bad_typeid();
    case 4:
      throw std::bad_function_call();
    case 5:
      throw std::bad_optional_access();
    case 6:
      throw std::bad_variant_access();
    case 7:
      throw std::bad_any_cast();
    case 8:
      throw std::bad_weak_ptr();
    case 9:
      throw std::bad_exception();
    case 10:
      throw std::system_error(std::make_error_code(std::errc::no_such_file_or_directory),
                              "open /x");
    case 11:
      throw std::system_error(ENOSPC, std::system_category(), "write");
    case 12:
      throw std::ios_base::failure("stream broke", std::io_errc::stream);
    case 13:
      throw std::future_error(std::future_errc::broken_promise);
    case 14:
      throw std::filesystem::filesystem_error("copy",
                                              std::make_error_code(std::errc::permission_denied));
    case 15:
      throw std::length_error("too long");
    default:
      throw std::exception();
  }
}

// The exception comes back as exactly E (not a type derived from it, not RemoteError),
// with the RemoteError nested inside.
template <class E>
void expect_standard(mp::Pool& pool, int which) {
  SCOPED_TRACE(which);
  try {
    pool.apply(throw_standard, which);
    ADD_FAILURE() << "no exception";
  } catch (const std::exception& e) {
    EXPECT_NE(dynamic_cast<const E*>(&e), nullptr)
        << "came back as " << typeid(e).name() << ": " << e.what();
    EXPECT_EQ(dynamic_cast<const mp::RemoteError*>(&e), nullptr) << "a RemoteError";
    try {
      std::rethrow_if_nested(e);
      ADD_FAILURE() << "no nested RemoteError";
    } catch (const mp::RemoteError& remote) {
      EXPECT_EQ(remote.task_index(), 0u);
    }
  }
}

TEST_F(PoolErrors, EveryStandardExceptionTypeComesBackAsItself) {
  // Regression: std::bad_alloc (and the types below) came back as mp::RemoteError.
  mp::Pool pool(1);
  expect_standard<std::bad_alloc>(pool, 0);
  expect_standard<std::bad_array_new_length>(pool, 1);
  expect_standard<std::bad_cast>(pool, 2);
  expect_standard<std::bad_typeid>(pool, 3);
  expect_standard<std::bad_function_call>(pool, 4);
  expect_standard<std::bad_optional_access>(pool, 5);
  expect_standard<std::bad_variant_access>(pool, 6);
  expect_standard<std::bad_any_cast>(pool, 7);
  expect_standard<std::bad_weak_ptr>(pool, 8);
  expect_standard<std::bad_exception>(pool, 9);
  expect_standard<std::length_error>(pool, 15);
  expect_standard<std::exception>(pool, 16);
  // A std::system_error keeps its code, category and message.
  try {
    pool.apply(throw_standard, 10);
    ADD_FAILURE();
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::make_error_code(std::errc::no_such_file_or_directory));
    EXPECT_NE(std::string(e.what()).find("open /x"), std::string::npos) << e.what();
  }
  try {
    pool.apply(throw_standard, 11);
    ADD_FAILURE();
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::error_code(ENOSPC, std::system_category()));
  }
  try {
    pool.apply(throw_standard, 12);
    ADD_FAILURE();
  } catch (const std::ios_base::failure& e) {
    EXPECT_EQ(e.code(), std::make_error_code(std::io_errc::stream));
  }
  try {
    pool.apply(throw_standard, 13);
    ADD_FAILURE();
  } catch (const std::future_error& e) {
    EXPECT_EQ(e.code(), std::make_error_code(std::future_errc::broken_promise));
  }
  try {
    pool.apply(throw_standard, 14);
    ADD_FAILURE();
  } catch (const std::filesystem::filesystem_error& e) {
    EXPECT_EQ(e.code(), std::make_error_code(std::errc::permission_denied));
  }
}

TEST_F(PoolErrors, OtherExceptionsBecomeRemoteError) {
  mp::Pool pool(2);
  try {
    pool.apply([](int) -> int { throw CustomError(); }, 0);
    FAIL();
  } catch (const mp::RemoteError& e) {
    EXPECT_NE(e.type().find("CustomError"), std::string::npos) << e.type();
    EXPECT_EQ(e.message(), "custom failure");
    EXPECT_EQ(e.task_index(), 0u);
    EXPECT_NE(std::string(e.what()).find("custom failure"), std::string::npos);
  }
  try {
    pool.apply([](int) -> int { throw 42; }, 0);
    FAIL();
  } catch (const mp::RemoteError& e) {
    EXPECT_NE(e.type().find("unknown"), std::string::npos);
  }
  auto r = pool.apply_async([](int) -> int { throw CustomError(); }, 0);
  r.wait();
  EXPECT_TRUE(r.ready());
  EXPECT_FALSE(r.successful());
  EXPECT_THROW(r.get(), mp::RemoteError);
}

TEST_F(PoolErrors, ImapRaisesAtTheFailedPositionAndGoesOn) {
  mp::Pool pool(2);
  auto results = pool.imap(fail_on_13, iota(20), 1);
  std::vector<int> got;
  int errors = 0;
  for (;;) {
    try {
      auto v = results.next(10s);
      if (!v) break;
      got.push_back(*v);
    } catch (const std::invalid_argument&) {
      ++errors;
      EXPECT_EQ(got.size(), 13u);
    }
  }
  EXPECT_EQ(errors, 1);
  EXPECT_EQ(got.size(), 19u);
}

TEST_F(PoolErrors, EveryArgumentOfAChunkRunsWhateverTheOthersDo) {
  for (bool batch : {true, false}) {
    mp::PoolOptions o;
    o.processes = 2;
    o.auto_batch = batch;
    mp::Pool pool(o);
    std::vector<int> got;
    std::vector<std::uint64_t> failed;
    auto results = pool.imap(
        [](int x) {
          if (x % 10 == 3) throw std::domain_error(std::to_string(x));
          return x;
        },
        iota(100), 5);
    for (;;) {
      try {
        auto v = results.next(10s);
        if (!v) break;
        got.push_back(*v);
      } catch (const std::domain_error& e) {
        try {
          std::rethrow_if_nested(e);
        } catch (const mp::RemoteError& r) {
          failed.push_back(r.task_index());
          EXPECT_EQ(r.message(), std::to_string(r.task_index()));
        }
      }
    }
    EXPECT_EQ(got.size(), 90u);
    EXPECT_EQ(failed, (std::vector<std::uint64_t>{3, 13, 23, 33, 43, 53, 63, 73, 83, 93}));
  }
}

TEST_F(PoolErrors, CrashedWorkerFailsOnlyItsTaskAndIsReplaced) {
  mp::Pool pool(2);
  const auto before = pool.pids();
  try {
    pool.map(
        [](int x) {
          if (x == 5) ::raise(SIGSEGV);
          return x;
        },
        iota(20), 1);
    FAIL() << "no exception";
  } catch (const mp::WorkerCrashed& e) {
    EXPECT_EQ(e.task_index(), 5u);
    EXPECT_EQ(e.signal(), SIGSEGV);
    EXPECT_EQ(e.exitcode(), -SIGSEGV);
    EXPECT_NE(std::string(e.what()).find("SIGSEGV"), std::string::npos) << e.what();
  }
  // Other tasks of the same kind complete; the pool still has two workers.
  auto rs = std::vector<mp::AsyncResult<int>>{};
  for (int i = 0; i < 10; ++i) {
    rs.push_back(pool.apply_async(
        [](int x) {
          if (x == 3) ::_exit(7);
          return x;
        },
        i));
  }
  for (int i = 0; i < 10; ++i) {
    if (i == 3) {
      try {
        rs[3].get();
        FAIL();
      } catch (const mp::WorkerCrashed& e) {
        EXPECT_EQ(e.exitcode(), 7);
        EXPECT_EQ(e.signal(), 0);
      }
    } else {
      EXPECT_EQ(rs[static_cast<std::size_t>(i)].get(), i);
    }
  }
  EXPECT_EQ(pool.map([](int x) { return x; }, iota(10)), iota(10));
  EXPECT_EQ(pool.pids().size(), 2u);
  EXPECT_NE(pool.pids(), before);
}

TEST_F(PoolErrors, WorkerKilledFromOutsideIsReplaced) {
  mp::Pool pool(2);
  const pid_t victim = pool.pids()[0];
  ASSERT_EQ(::kill(victim, SIGKILL), 0);
  // Idle when killed: no task is lost, every call completes.
  EXPECT_EQ(pool.map([](int x) { return x + 1; }, iota(100), 1).back(), 100);
  const auto now = pool.pids();
  EXPECT_EQ(std::find(now.begin(), now.end(), victim), now.end());
}

struct ThrowingRange {
  struct iterator {
    using value_type = int;
    using difference_type = std::ptrdiff_t;
    int i = 0;
    int operator*() const {
      if (i == 50) throw std::length_error("input broke at 50");
      return i;
    }
    iterator& operator++() {
      ++i;
      return *this;
    }
    void operator++(int) { ++i; }
    bool operator==(const iterator&) const = default;
  };
  iterator begin() const { return {}; }
  iterator end() const { return {100}; }
};

TEST_F(PoolErrors, InputThatThrowsReachesTheCaller) {
  mp::Pool pool(2);
  static_assert(std::ranges::input_range<ThrowingRange>);
  try {
    for ([[maybe_unused]] int x : pool.imap([](int v) { return v; }, ThrowingRange{}, 5)) {
    }
    FAIL();
  } catch (const std::length_error& e) {
    EXPECT_STREQ(e.what(), "input broke at 50");
  }
  EXPECT_THROW(pool.map([](int x) { return x; }, ThrowingRange{}, 5), std::length_error);
  EXPECT_EQ(pool.map([](int x) { return x; }, iota(10)), iota(10));
}

// A large first argument, then an input that breaks when its second is read. The large
// argument is already on its way to the worker (it reads a large task while it is being
// written) when the input breaks.
struct LargeThenBroken {
  struct iterator {
    using value_type = std::vector<std::uint8_t>;
    using difference_type = std::ptrdiff_t;
    int i = 0;
    std::vector<std::uint8_t> operator*() const {
      if (i > 0) throw std::length_error("input broke after the large argument");
      return std::vector<std::uint8_t>(48u << 20, 7);
    }
    iterator& operator++() {
      ++i;
      return *this;
    }
    void operator++(int) { ++i; }
    bool operator==(const iterator&) const = default;
  };
  iterator begin() const { return {0}; }
  iterator end() const { return {2}; }
  std::size_t size() const { return 2; }  // so that map reads it as it sends it
};

TEST_F(PoolErrors, InputThatBreaksWhileALargeTaskIsSentRunsNoneOfIt) {
  static_assert(std::ranges::sized_range<LargeThenBroken>);
  mp::test::SharedCounters runs(1);
  const auto h = runs.handle();
  auto size_of = [h](const std::vector<std::uint8_t>& v) {
    h.add(0);
    return v.size();
  };
  mp::Pool pool(1);
  try {
    pool.map(size_of, LargeThenBroken{}, 2);  // both arguments in one task
    FAIL() << "the input's error was lost";
  } catch (const std::length_error& e) {
    EXPECT_STREQ(e.what(), "input broke after the large argument");
  }
  const std::vector<std::vector<std::uint8_t>> fine(2, std::vector<std::uint8_t>(3u << 20, 1));
  EXPECT_EQ(pool.map(size_of, fine, 2), (std::vector<std::size_t>{3u << 20, 3u << 20}));
  EXPECT_EQ(runs[0], 2);  // the arguments of the second call only
}

// A range whose size() promises more (or fewer) elements than it yields.
struct MisSized {
  std::vector<int> items;
  std::size_t claimed;
  auto begin() const { return items.begin(); }
  auto end() const { return items.end(); }
  std::size_t size() const { return claimed; }
};

TEST_F(PoolErrors, InputWhoseSizeIsWrongFailsClearly) {
  mp::Pool pool(2);
  auto twice = [](int x) { return 2 * x; };
  EXPECT_THROW(pool.map(twice, MisSized{{1, 2}, 3}, 5), std::logic_error);
  EXPECT_THROW(pool.map(twice, MisSized{{1, 2, 3}, 2}, 1), std::logic_error);
  EXPECT_EQ(pool.map(twice, MisSized{{1, 2, 3}, 3}, 2), (std::vector<int>{2, 4, 6}));
}

TEST_F(PoolErrors, InitializerThatThrowsBreaksThePoolClearly) {
  mp::PoolOptions o;
  o.processes = 2;
  o.initializer = [] { throw std::runtime_error("no database"); };
  mp::Pool pool(o);
  try {
    pool.map([](int x) { return x; }, iota(10));
    FAIL();
  } catch (const mp::BrokenPool& e) {
    EXPECT_NE(std::string(e.what()).find("no database"), std::string::npos) << e.what();
  }
  EXPECT_THROW(pool.apply([](int x) { return x; }, 1), mp::BrokenPool);
  // A broken pool can still be closed and joined: its workers are gone, nothing hangs.
  pool.close();
  EXPECT_TRUE(pool.join(20s));
}

TEST_F(PoolErrors, InitializerThatCrashesBreaksThePool) {
  mp::PoolOptions o;
  o.processes = 1;
  o.initializer = [] { ::raise(SIGABRT); };
  mp::Pool pool(o);
  EXPECT_THROW(pool.map([](int x) { return x; }, iota(10)), mp::Error);
}

TEST_F(PoolErrors, TaskTimeoutKillsOnlyTheStuckTask) {
  mp::PoolOptions o;
  o.processes = 2;
  o.task_timeout = 300ms;
  mp::Pool pool(o);
  const auto before = pool.pids();
  auto r = pool.map_async(
      [](int x) {
        if (x == 4) {
          for (;;) ::pause();  // stuck for good
        }
        return x;
      },
      iota(12), 1);
  try {
    std::move(r).get();
    FAIL() << "no timeout";
  } catch (const mp::TimeoutError& e) {
    EXPECT_NE(std::string(e.what()).find("task 4"), std::string::npos) << e.what();
  }
  // The stuck worker was replaced; the pool goes on, and quick tasks are not affected.
  EXPECT_EQ(pool.map([](int x) { return x; }, iota(50), 1), iota(50));
  EXPECT_NE(pool.pids(), before);
  mp::PoolOptions bad;
  bad.task_timeout = -1ms;
  EXPECT_THROW(mp::Pool{bad}, std::invalid_argument);
}

TEST_F(PoolErrors, EveryTaskCrashingDoesNotBreakThePool) {
  mp::Pool pool(2);
  int crashed = 0;
  for (int i = 0; i < 20; ++i) {
    try {
      pool.apply([](int) -> int { ::abort(); }, i);
    } catch (const mp::WorkerCrashed& e) {
      EXPECT_EQ(e.signal(), SIGABRT);
      ++crashed;
    }
  }
  EXPECT_EQ(crashed, 20);
  EXPECT_EQ(pool.apply([](int x) { return x + 1; }, 1), 2);
}

// Run in a child process so that the lowered limit does not touch the test runner. The
// limits fail the constructor at each step: shared memory, the first worker, a later one.
TEST_F(PoolErrors, WorkersThatCannotStartFailTheConstructorCleanly) {
#if defined(MP_TEST_ASAN)
  // UBSan's vptr check needs to open files itself; with no fd left it reports every
  // virtual call as a bad vptr. The plain and clang builds run this test.
  GTEST_SKIP() << "fd exhaustion starves the sanitizer runtime";
#endif
  // More spare fds each round, until the pool fits; every round before must fail cleanly.
  // Only the soft limit is lowered, and to the number below which exactly `spare` fd
  // numbers are free (the inherited fds may have holes); it is raised again before the
  // open fds are compared, so the comparison itself has an fd to list them with.
  int spare = 0;
  for (;; ++spare) {
    ASSERT_LT(spare, 64) << "the pool never fit";
    mp::Process probe([spare] {
      const std::vector<int> before = mp::test::open_fds();
      const rlimit original = mp::test::leave_spare_fds(spare, before);
      try {
        mp::Pool pool(4);
        std::exit(11);  // the limit should have stopped it
      } catch (const std::system_error& e) {
        if (e.code().value() != EMFILE) std::exit(12);
      }
      if (::setrlimit(RLIMIT_NOFILE, &original) != 0) std::exit(10);
      if (!mp::test::child_pids().empty()) std::exit(13);  // started workers were reaped
      if (mp::test::open_fds() != before) std::exit(14);
      std::exit(0);
    });
    probe.start();
    probe.join();
    if (probe.exitcode() == 11) {
      break;
    }
    EXPECT_EQ(probe.exitcode(), 0) << "with " << spare << " spare fds";
  }
  EXPECT_GE(spare, 12) << "a pool of 4 needs shared memory and a pidfd per worker";
}

// The children of the fork server this process uses (none if it runs none).
std::vector<int> fork_server_children() {
  const pid_t server = mp::process::fork_server_pid();
  std::vector<int> out;
  if (server <= 0) return out;
  std::ifstream f("/proc/" + std::to_string(server) + "/task/" + std::to_string(server) +
                  "/children");
  int pid = 0;
  while (f >> pid) out.push_back(pid);
  return out;
}

TEST_F(PoolErrors, WorkersThatCannotStartUnderTheForkServerLeaveNoneBehind) {
  mp::test::user_sees(
      "A forkserver Pool(4) whose workers cannot all start (too few free fds, the fork server "
      "started before or with the limit): the constructor throws `std::system_error` and no "
      "worker it started stays alive under the fork server");
#if defined(MP_TEST_ASAN)
  GTEST_SKIP() << "fd exhaustion starves the sanitizer runtime";
#endif
  for (const bool server_first : {true, false}) {
    int spare = 0;
    for (;; ++spare) {
      ASSERT_LT(spare, 64) << "the pool never fit";
      mp::Process probe([spare, server_first] {
        const mp::PoolOptions o = mp::test::options_for(mp::StartMethod::forkserver, 4);
        if (server_first) {
          mp::Pool warm(mp::test::options_for(mp::StartMethod::forkserver, 1));
        }
        const std::vector<int> before = mp::test::open_fds();
        const rlimit original = mp::test::leave_spare_fds(spare, before);
        try {
          mp::Pool pool(o);
          std::exit(11);  // the limit should have stopped it
        } catch (const std::system_error&) {
        }
        if (::setrlimit(RLIMIT_NOFILE, &original) != 0) std::exit(10);
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!fork_server_children().empty() && std::chrono::steady_clock::now() < give_up) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        if (!fork_server_children().empty()) std::exit(13);  // a started worker lives on
        std::exit(0);
      });
      probe.start();
      ASSERT_TRUE(probe.join(std::chrono::seconds(60)));
      if (probe.exitcode() == 11) {
        break;
      }
      EXPECT_EQ(probe.exitcode(), 0)
          << "with " << spare << " spare fds, server first " << server_first;
    }
  }
}

TEST_F(PoolErrors, BadOptionsAreRejected) {
  mp::PoolOptions o;
  o.processes = -1;
  EXPECT_THROW(mp::Pool{o}, std::invalid_argument);
  o.processes = 1;
  o.maxtasksperchild = -2;
  EXPECT_THROW(mp::Pool{o}, std::invalid_argument);
}

}  // namespace
