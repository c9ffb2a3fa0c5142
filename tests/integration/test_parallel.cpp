// mp::Parallel / mp::delayed (joblib): results in input order, generators, the first
// failure with its index, per-call outcomes, n_jobs values, batch sizes, timeouts, and
// workers kept across calls; on every backend.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <iterator>
#include <memory>
#include <mp/mp.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "helpers/hygiene.hpp"

namespace {

using namespace std::chrono_literals;

int square(int x) { return x * x; }

int fails_on_7(int x) {
  if (x == 7) {
    throw std::invalid_argument("seven");
  }
  return x;
}

std::vector<int> upto(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    v[static_cast<std::size_t>(i)] = i;
  }
  return v;
}

auto squares(int n) { return mp::delayed(square).over(upto(n)); }

class ParallelTest : public mp::test::HygieneTest,
                     public ::testing::WithParamInterface<mp::Backend> {
 protected:
  mp::ParallelOptions options(int n_jobs = 2) const {
    return {.n_jobs = n_jobs, .backend = GetParam()};
  }
};

TEST_P(ParallelTest, ResultsInInputOrder) {
  mp::Parallel parallel(options());
  const std::vector<int> ys = parallel(squares(1000));
  ASSERT_EQ(ys.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(ys[static_cast<std::size_t>(i)], i * i);
  }
  // The same object again: the workers are kept.
  EXPECT_EQ(parallel(squares(10)).back(), 81);
}

TEST_P(ParallelTest, BatchSizeGivenOrAutomatic) {
  mp::ParallelOptions o = options();
  o.batch_size = 64;
  mp::Parallel batched(o);
  EXPECT_EQ(batched(squares(1000))[999], 999 * 999);
  o.batch_size = 0;
  mp::Parallel automatic(o);
  EXPECT_EQ(automatic(squares(40'000))[39'999], 39'999 * 39'999);
}

TEST_P(ParallelTest, Generators) {
  mp::Parallel parallel(options());
  std::vector<int> in_order;
  for (int y : parallel.generator(squares(200))) {
    in_order.push_back(y);
  }
  ASSERT_EQ(in_order.size(), 200u);
  EXPECT_EQ(in_order[150], 150 * 150);
  std::multiset<int> any_order;
  for (int y : parallel.generator_unordered(squares(200))) {
    any_order.insert(y);
  }
  EXPECT_EQ(any_order, std::multiset<int>(in_order.begin(), in_order.end()));
}

TEST_P(ParallelTest, TheFirstFailureIsRethrownWithItsIndex) {
  mp::Parallel parallel(options());
  auto calls = mp::delayed(fails_on_7).over(upto(20));
  try {
    parallel(calls);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "seven");
    if (GetParam() == mp::Backend::processes) {
      try {
        std::rethrow_if_nested(e);
        FAIL() << "no nested RemoteError";
      } catch (const mp::RemoteError& remote) {
        EXPECT_EQ(remote.task_index(), 7u);
      }
    }
  }
}

TEST_P(ParallelTest, OutcomesKeepEveryOtherResult) {
  mp::Parallel parallel(options());
  auto calls = mp::delayed(fails_on_7).over(upto(20));
  const auto outcomes = parallel.outcomes(calls);
  ASSERT_EQ(outcomes.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    const auto& o = outcomes[static_cast<std::size_t>(i)];
    if (i == 7) {
      EXPECT_FALSE(o.ok());
      EXPECT_THROW(o.value(), std::invalid_argument);
    } else {
      EXPECT_TRUE(o.ok());
      EXPECT_EQ(o.value(), i);
    }
  }
}

TEST_P(ParallelTest, DifferentFunctionsOfOneTypeAndConvertedArguments) {
  mp::Parallel parallel(options());
  double (*const fns[])(double) = {std::sqrt, std::cbrt};
  std::vector<mp::DelayedCall<double (*)(double), double>> calls;
  for (int i = 0; i < 10; ++i) {
    calls.push_back(mp::delayed(fns[i % 2])(64.0));
  }
  const auto ys = parallel(calls);
  EXPECT_DOUBLE_EQ(ys[0], 8.0);
  EXPECT_DOUBLE_EQ(ys[1], 4.0);
  auto greet = [](std::string who, long n) { return who + std::to_string(n); };
  std::vector<mp::DelayedCall<decltype(greet), std::string, long>> named{
      mp::delayed(greet)("a", 1L), mp::delayed(greet)("b", 2L)};
  EXPECT_EQ(parallel(named), (std::vector<std::string>{"a1", "b2"}));
}

// An input of calls that counts how many were read: each call made when read, as a lazy
// input would make it.
class CountingCalls {
 public:
  using Call = decltype(mp::delayed(square)(0));
  CountingCalls(int n, int (*f)(int), std::shared_ptr<std::atomic<int>> reads)
      : n_(n), f_(f), reads_(std::move(reads)) {}

  class iterator {
   public:
    using value_type = decltype(mp::delayed(fails_on_7)(0));
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    iterator(const CountingCalls* in, int i) : in_(in), i_(i) {}
    value_type operator*() const {
      ++*in_->reads_;
      return mp::delayed(in_->f_)(i_);
    }
    iterator& operator++() {
      ++i_;
      return *this;
    }
    void operator++(int) { ++i_; }
    bool operator==(std::default_sentinel_t) const { return i_ == in_->n_; }

   private:
    const CountingCalls* in_ = nullptr;
    int i_ = 0;
  };
  iterator begin() const { return {this, 0}; }
  std::default_sentinel_t end() const { return {}; }

 private:
  int n_;
  int (*f_)(int);
  std::shared_ptr<std::atomic<int>> reads_;
};

TEST_P(ParallelTest, PreDispatchReadsTheInputAsResultsComeIn) {
  auto reads = std::make_shared<std::atomic<int>>(0);
  mp::ParallelOptions o = options();
  o.pre_dispatch = 4;
  o.batch_size = 1;
  mp::Parallel parallel(o);
  CountingCalls calls(1000, square, reads);
  auto results = parallel.generator(calls);
  ASSERT_EQ(results.next(), 0);
  // The first result, four in flight, and the read that found the window full.
  EXPECT_LE(reads->load(), 6) << "read ahead of pre_dispatch";
  int taken = 1;
  while (auto v = results.next()) {
    ASSERT_EQ(*v, taken * taken);
    ++taken;
    ASSERT_LE(reads->load(), taken + 5);
  }
  EXPECT_EQ(taken, 1000);
  EXPECT_EQ(reads->load(), 1000);

  // The whole call, from a temporary range and from one given by reference.
  const std::vector<int> ys = parallel(mp::delayed(square).over(upto(500)));
  ASSERT_EQ(ys.size(), 500u);
  EXPECT_EQ(ys[499], 499 * 499);
  auto kept = mp::delayed(square).over(upto(300));
  std::vector<int> unordered;
  for (int y : parallel.generator_unordered(kept)) {
    unordered.push_back(y);
  }
  std::sort(unordered.begin(), unordered.end());
  ASSERT_EQ(unordered.size(), 300u);
  EXPECT_EQ(unordered[299], 299 * 299);
}

TEST_P(ParallelTest, PreDispatchStopsReadingAtTheFirstFailure) {
  auto reads = std::make_shared<std::atomic<int>>(0);
  mp::ParallelOptions o = options();
  o.pre_dispatch = 4;
  o.batch_size = 1;
  mp::Parallel parallel(o);
  EXPECT_THROW(parallel(CountingCalls(100000, fails_on_7, reads)), std::invalid_argument);
  EXPECT_LT(reads->load(), 100) << "calls after the failure were read";
  // Without pre_dispatch the whole input is read first.
  *reads = 0;
  mp::Parallel all(options());
  EXPECT_THROW(all(CountingCalls(2000, fails_on_7, reads)), std::invalid_argument);
  EXPECT_EQ(reads->load(), 2000);
}

INSTANTIATE_TEST_SUITE_P(, ParallelTest,
                         ::testing::Values(mp::Backend::processes, mp::Backend::threads,
                                           mp::Backend::sequential),
                         [](const auto& info) {
                           switch (info.param) {
                             case mp::Backend::processes:
                               return std::string("processes");
                             case mp::Backend::threads:
                               return std::string("threads");
                             case mp::Backend::sequential:
                               break;
                           }
                           return std::string("sequential");
                         });

using ParallelOptionsTest = mp::test::HygieneTest;

TEST_F(ParallelOptionsTest, NJobsFollowJoblib) {
  EXPECT_EQ(mp::Parallel(mp::ParallelOptions{.n_jobs = -1}).n_jobs(), mp::cpu_count());
  EXPECT_EQ(mp::Parallel(mp::ParallelOptions{.n_jobs = -2}).n_jobs(),
            std::max(mp::cpu_count() - 1, 1));
  EXPECT_EQ(mp::Parallel(mp::ParallelOptions{.n_jobs = -1000}).n_jobs(), 1);
  EXPECT_EQ(mp::Parallel(3).n_jobs(), 3);
  EXPECT_THROW(mp::Parallel(0), std::invalid_argument);
  EXPECT_THROW(mp::Parallel(mp::ParallelOptions{.n_jobs = 2, .batch_size = -1}),
               std::invalid_argument);
  EXPECT_THROW(mp::Parallel(mp::ParallelOptions{
                   .n_jobs = 2, .backend = mp::Backend::threads, .timeout = 1s}),
               std::invalid_argument);
  EXPECT_THROW(mp::Parallel(mp::ParallelOptions{.n_jobs = 2, .pre_dispatch = -1}),
               std::invalid_argument);
}

int sleep_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

TEST_F(ParallelOptionsTest, ATimeoutFailsOnlyTheCallThatHangs) {
  mp::Parallel parallel(mp::ParallelOptions{.n_jobs = 2, .timeout = 200ms});
  const std::vector<int> ms{1, 10'000, 2, 3};
  auto calls = mp::delayed(sleep_ms).over(ms);
  const auto outcomes = parallel.outcomes(calls);
  ASSERT_EQ(outcomes.size(), 4u);
  EXPECT_EQ(outcomes[0].value(), 1);
  EXPECT_THROW(outcomes[1].value(), mp::TimeoutError);
  EXPECT_EQ(outcomes[2].value(), 2);
  EXPECT_EQ(outcomes[3].value(), 3);
}

TEST_F(ParallelOptionsTest, WorkersAreKeptAcrossCalls) {
  mp::Parallel parallel(2);
  auto pids = [&] {
    auto calls = mp::delayed([](int) { return static_cast<int>(::getpid()); }).over(upto(50));
    const auto v = parallel(calls);
    return std::set<int>(v.begin(), v.end());
  };
  const auto first = pids();
  const auto second = pids();
  EXPECT_FALSE(first.count(::getpid()));
  for (int p : second) {
    EXPECT_TRUE(first.count(p)) << "a new worker " << p;
  }
}

}  // namespace
