// Items whose encoding or decoding fails, on either side, and inputs that break midway:
// each failure is reported at its own position and every other item is delivered.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mp/mp.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "helpers/hygiene.hpp"
#include "helpers/inputs.hpp"
#include "helpers/start_methods.hpp"

namespace {

using namespace std::chrono_literals;
using CodecFaults = mp::test::StartMethodTest;

// What a Fragile value does when it is decoded or encoded with the trigger value.
enum class Breaks : int {
  nothing,
  load_throws,
  save_throws,
  load_aborts,
  load_exits,
  load_segfaults
};

// A user type whose cereal save/load misbehaves for one value. (Its string keeps it from
// being trivially copyable, which mp would copy as bytes without calling save or load.)
struct Fragile {
  int value = 0;
  int trigger = -1;
  Breaks breaks = Breaks::nothing;
  std::string label;

  template <class Archive>
  void save(Archive& ar) const {
    if (value == trigger && breaks == Breaks::save_throws) {
      throw std::runtime_error("save failed for " + std::to_string(value));
    }
    ar(value, trigger, breaks, label);
  }
  template <class Archive>
  void load(Archive& ar) {
    ar(value, trigger, breaks, label);
    if (value != trigger) return;
    if (!label.empty() && label[0] == '/') {  // a file counting the trigger's loads
      std::FILE* f = std::fopen(label.c_str(), "a");
      std::fputc('x', f);
      std::fclose(f);
    }
    switch (breaks) {
      case Breaks::load_throws:
        throw std::runtime_error("load failed for " + std::to_string(value));
      case Breaks::load_aborts:
        std::abort();
      case Breaks::load_exits:
        ::_exit(7);
      case Breaks::load_segfaults:
        ::raise(SIGSEGV);
        break;
      default:
        break;
    }
  }
};

std::vector<Fragile> fragile_inputs(int n, int trigger, Breaks breaks) {
  std::vector<Fragile> xs;
  for (int i = 0; i < n; ++i) xs.push_back({i, trigger, breaks, "item"});
  return xs;
}

// Everything an imap delivered: values in order, the positions of its failures with
// their messages, and the last failure of type Failure.
template <class Failure>
struct Delivered {
  std::vector<int> values;
  std::vector<std::size_t> failed_at;
  std::vector<std::string> messages;
  std::optional<Failure> last_failure;
};

// Reads `results` to its end; `value_of` turns each value into the int it stands for.
template <class Failure = std::exception, class Results, class ValueOf>
Delivered<Failure> read_all(Results& results, ValueOf value_of) {
  Delivered<Failure> d;
  for (;;) {
    try {
      auto v = results.next(30s);
      if (!v) break;
      d.values.push_back(value_of(*v));
    } catch (const Failure& e) {
      d.failed_at.push_back(d.values.size() + d.failed_at.size());
      d.messages.emplace_back(e.what());
      d.last_failure.emplace(e);
    }
  }
  return d;
}

template <class Failure = std::exception, class Results>
Delivered<Failure> read_all(Results& results) {
  return read_all<Failure>(results, [](int v) { return v; });
}

std::vector<int> all_but(int n, int missing) {
  std::vector<int> v;
  for (int i = 0; i < n; ++i) {
    if (i != missing) v.push_back(i);
  }
  return v;
}

TEST_P(CodecFaults, ArgumentWhoseLoadThrowsFailsOnlyItsItem) {
  mp::test::user_sees(
      "An argument's `load()` throws in the worker (2 000 items, chunksize 1): an error at that "
      "item's position, the other 1 999 values delivered");
  mp::Pool pool(options(2));
  auto results = pool.imap([](const Fragile& f) { return f.value; },
                           fragile_inputs(2000, 1234, Breaks::load_throws), 1);
  const auto d = read_all(results);
  EXPECT_EQ(d.values, all_but(2000, 1234));
  ASSERT_EQ(d.failed_at, std::vector<std::size_t>{1234});
  EXPECT_NE(d.messages[0].find("load failed for 1234"), std::string::npos) << d.messages[0];
}

TEST_P(CodecFaults, ResultWhoseLoadThrowsFailsOnlyItsItem) {
  mp::test::user_sees(
      "A result's `load()` throws in the parent (2 000 items, chunksize 1): an error at that "
      "item's position, the other 1 999 values delivered");
  mp::Pool pool(options(2));
  auto results = pool.imap(
      [](int x) {
        return Fragile{x, 1234, Breaks::load_throws, "result"};
      },
      mp::test::iota(2000), 1);
  const auto d = read_all(results, [](const Fragile& f) { return f.value; });
  EXPECT_EQ(d.values, all_but(2000, 1234));
  ASSERT_EQ(d.failed_at, std::vector<std::size_t>{1234});
  EXPECT_NE(d.messages[0].find("load failed for 1234"), std::string::npos) << d.messages[0];
}

TEST_P(CodecFaults, ArgumentWhoseLoadKillsTheWorkerFailsOnlyItsItem) {
  mp::test::user_sees(
      "An argument's `load()` kills the worker (abort, `_exit(7)`, SIGSEGV; 400 items): "
      "`mp::WorkerCrashed` for that item, the other 399 values delivered");
  for (Breaks how : {Breaks::load_aborts, Breaks::load_exits, Breaks::load_segfaults}) {
    mp::Pool pool(options(2));
    auto results =
        pool.imap([](const Fragile& f) { return f.value; }, fragile_inputs(400, 9, how), 1);
    const auto d = read_all<mp::WorkerCrashed>(results);
    const auto& crash = d.last_failure;
    EXPECT_EQ(d.values, all_but(400, 9)) << static_cast<int>(how);
    ASSERT_EQ(d.failed_at, std::vector<std::size_t>{9}) << static_cast<int>(how);
    EXPECT_EQ(crash->task_index(), 9u);
    if (how == Breaks::load_exits) {
      EXPECT_EQ(crash->exitcode(), 7);
    }
    if (how == Breaks::load_segfaults) {
      EXPECT_EQ(crash->signal(), SIGSEGV);
    }
  }
}

TEST_P(CodecFaults, CrashInDecodingIsPinnedOnItsArgumentInAChunk) {
  mp::test::user_sees(
      "An argument's `load()` kills the worker inside a chunk of 8: the crash is pinned on that "
      "argument (task 9), the pool stops retrying it, the other 39 values delivered");
  char loads[] = "/tmp/mp-test-loads-XXXXXX";
  const int fd = ::mkstemp(loads);
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::vector<Fragile> inputs = fragile_inputs(40, 9, Breaks::load_exits);
  inputs[9].label = loads;
  mp::Pool pool(options(2));
  auto results = pool.imap([](const Fragile& f) { return f.value; }, inputs, 8);
  const auto d = read_all<mp::WorkerCrashed>(results);
  const auto& crash = d.last_failure;
  EXPECT_EQ(d.values, all_but(40, 9));
  ASSERT_EQ(d.failed_at, std::vector<std::size_t>{9});
  EXPECT_EQ(crash->task_index(), 9u);
  EXPECT_EQ(crash->exitcode(), 7);
  // Loaded once: the replacement worker skips the argument instead of decoding it again
  // (crash_retries is 0).
  std::FILE* f = std::fopen(loads, "r");
  ASSERT_NE(f, nullptr);
  int count = 0;
  while (std::fgetc(f) != EOF) ++count;
  std::fclose(f);
  ::unlink(loads);
  EXPECT_EQ(count, 1);
}

TEST_P(CodecFaults, ArgumentWhoseSaveThrowsFailsOnlyItsItem) {
  mp::test::user_sees(
      "An argument's `save()` throws in the parent (20 items): an error at that item's position "
      "(9), the other 19 values delivered, as Python's imap does");
  mp::Pool pool(options(2));
  auto results = pool.imap([](const Fragile& f) { return f.value; },
                           fragile_inputs(20, 9, Breaks::save_throws), 1);
  const auto d = read_all(results);
  EXPECT_EQ(d.values, all_but(20, 9));
  ASSERT_EQ(d.failed_at, std::vector<std::size_t>{9});
  EXPECT_NE(d.messages[0].find("save failed for 9"), std::string::npos) << d.messages[0];
}

// A function object whose state fails to load in the worker: every task fails as a whole.
struct UnloadableDoubler {
  std::string state = "x";
  int operator()(int x) const { return 2 * x; }
  template <class Archive>
  void save(Archive& ar) const {
    ar(state);
  }
  template <class Archive>
  void load(Archive& ar) {
    ar(state);
    throw std::runtime_error("this function cannot be loaded");
  }
};

TEST_P(CodecFaults, ATaskThatFailsWholeRaisesForEachOfItsItems) {
  mp::test::user_sees(
      "A task fails as a whole (its function's `load()` throws; 20 items, chunksize 5): imap "
      "raises the error at each of the 20 positions, never a short iteration");
  mp::Pool pool(options(2));
  auto results = pool.imap(UnloadableDoubler{}, mp::test::iota(20), 5);
  const auto d = read_all(results);
  EXPECT_TRUE(d.values.empty());
  EXPECT_EQ(d.failed_at.size(), 20u);
  for (const std::string& m : d.messages) {
    EXPECT_NE(m.find("this function cannot be loaded"), std::string::npos) << m;
  }
}

// An input whose iterator throws when element `broken` is read.
struct BreaksAt {
  int broken;
  int size;
  struct iterator {
    using value_type = int;
    using difference_type = std::ptrdiff_t;
    int i = 0;
    int broken = 0;
    int operator*() const {
      if (i == broken) throw std::length_error("input broke at " + std::to_string(i));
      return i;
    }
    iterator& operator++() {
      ++i;
      return *this;
    }
    void operator++(int) { ++i; }
    bool operator==(const iterator& o) const { return i == o.i; }
  };
  iterator begin() const { return {0, broken}; }
  iterator end() const { return {size, broken}; }
};

TEST_P(CodecFaults, InputThatThrowsKeepsTheResultsBeforeIt) {
  mp::test::user_sees(
      "An imap's input throws at element k: the results of the elements before it "
      "(those its chunks completed) are delivered first, then the input's error");
  struct Case {
    int broken;
    int chunksize;
    std::size_t delivered;  // what CPython's imap yields before the error
  };
  for (const Case c : {Case{3, 1, 3}, Case{7, 2, 6}, Case{7, 4, 4}}) {
    mp::Pool pool(options(2));
    auto results = pool.imap([](int x) { return x * x; }, BreaksAt{c.broken, 20}, c.chunksize);
    std::vector<int> got;
    std::optional<std::string> error;
    for (;;) {
      try {
        auto v = results.next(30s);
        if (!v) break;
        got.push_back(*v);
      } catch (const std::length_error& e) {
        error = e.what();
        break;
      }
    }
    std::vector<int> expected;
    for (int i = 0; i < static_cast<int>(c.delivered); ++i) expected.push_back(i * i);
    EXPECT_EQ(got, expected) << "broken at " << c.broken << ", chunksize " << c.chunksize;
    EXPECT_EQ(error, "input broke at " + std::to_string(c.broken));
  }
}

MP_TEST_ALL_START_METHODS(CodecFaults);

}  // namespace
