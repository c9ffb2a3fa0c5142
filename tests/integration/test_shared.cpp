// Values and arrays in shared memory, handed to Process targets, pool initializers and
// pool tasks on every start method: every process reads and writes the same bytes.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mp/mp.hpp>
#include <numeric>
#include <vector>

#include "helpers/hygiene.hpp"
#include "helpers/start_methods.hpp"

namespace {

using namespace std::chrono_literals;

class SharedData : public mp::test::StartMethodTest {};
using SharedBasics = mp::test::HygieneTest;

void fill(mp::Value<long> counter, mp::Array<int> squares, mp::RawValue<std::atomic<int>> hits) {
  for (std::size_t i = 0; i < squares.size(); ++i) squares[i] = static_cast<int>(i * i);
  for (int i = 0; i < 1000; ++i) {
    counter.update([](long& v) { ++v; });
    hits.get().fetch_add(1);
  }
}

TEST_P(SharedData, AProcessWritesWhatTheParentReads) {
  mp::Value<long> counter(5);
  mp::Array<int> squares(100);
  mp::RawValue<std::atomic<int>> hits;
  std::vector<mp::Process> ps;
  for (int i = 0; i < 2; ++i) {
    ps.emplace_back(fill, counter, squares, hits);
    ps.back().set_start_method(GetParam());
    ps.back().start();
  }
  for (auto& p : ps) {
    ASSERT_TRUE(p.join(30s));
    EXPECT_EQ(p.exitcode(), 0);
  }
  EXPECT_EQ(counter.load(), 5 + 2000);
  EXPECT_EQ(hits.get().load(), 2000);
  for (std::size_t i = 0; i < squares.size(); ++i) EXPECT_EQ(squares[i], static_cast<int>(i * i));
}

mp::RawValue<int> g_started_with;  // set in each worker by the initializer

void remember(mp::RawValue<int> v) {
  v.get() += 1;  // the workers count themselves (no lock: one at a time is not promised)
  g_started_with = v;
}

TEST_P(SharedData, PoolInitializersAndTasksShareTheSameMemory) {
  mp::RawValue<int> workers(0);
  mp::RawArray<long> out(1000);
  mp::PoolOptions o = options(2);
  o.initializer = mp::bind_initializer(remember, workers);
  mp::Pool pool(o);
  std::vector<std::pair<mp::RawArray<long>, int>> args;
  for (int i = 0; i < 1000; ++i) args.emplace_back(out, i);
  pool.starmap([](mp::RawArray<long> a, int i) { a[static_cast<std::size_t>(i)] = 3L * i; }, args,
               100);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(out[static_cast<std::size_t>(i)], 3L * i);
  // The initializer's value, as a worker holds it, is the parent's.
  const std::vector<int> seen =
      pool.map([](int) { return g_started_with.load(); }, std::vector<int>(4, 0), 1);
  for (int v : seen) EXPECT_GE(v, 1);
  EXPECT_GE(workers.load(), 1);
  pool.close();
  pool.join();
}

TEST_P(SharedData, ATaskReturnsAnArrayItReceivedWithoutCopyingIt) {
  mp::RawArray<double> xs(std::size_t{1} << 20);
  mp::Pool pool(options(1));
  auto back = pool.apply(
      [](mp::RawArray<double> a) {
        a[7] = 7.5;
        return a;
      },
      xs);
  back[8] = 8.5;  // the same memory, here too
  EXPECT_EQ(xs[7], 7.5);
  EXPECT_EQ(xs[8], 8.5);
  EXPECT_EQ(back.size(), xs.size());
  pool.close();
  pool.join();
}

// A task's own array, made in the worker: the parent maps the same memory (no copy of
// its bytes travels), although the worker let go of it once the result was encoded.
mp::RawArray<double> made_in_task(int seed) {
  mp::RawArray<double> a(std::size_t{1} << 18);  // 2 MiB
  for (std::size_t i = 0; i < a.size(); i += 4096) {
    a[i] = seed + static_cast<double>(i);
  }
  return a;
}

void expect_made_in_task(const mp::RawArray<double>& a, int seed) {
  ASSERT_EQ(a.size(), std::size_t{1} << 18);
  for (std::size_t i = 0; i < a.size(); i += 4096) {
    ASSERT_EQ(a[i], seed + static_cast<double>(i)) << i;
  }
}

int open_descriptors() {
  int n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++n;
  }
  return n;
}

TEST_P(SharedData, ATaskReturnsAnArrayItMade) {
  mp::Pool pool(options(2));
  expect_made_in_task(pool.apply(made_in_task, 3), 3);
  const int before = pool.apply(open_descriptors);

  std::vector<int> seeds(64);
  std::iota(seeds.begin(), seeds.end(), 0);
  const std::vector<mp::RawArray<double>> arrays = pool.map(made_in_task, seeds, 1);
  ASSERT_EQ(arrays.size(), seeds.size());
  for (int seed : seeds) {
    expect_made_in_task(arrays[static_cast<std::size_t>(seed)], seed);
  }
  // Streamed to the caller, and written to by the parent: the memory is shared, not copied.
  int seen = 0;
  for (mp::RawArray<double> a : pool.imap_unordered(made_in_task, seeds)) {
    a[1] = 1.5;
    ++seen;
  }
  EXPECT_EQ(seen, 64);

  // The workers hold no descriptor of results the parent has read.
  for (int i = 0; i < 4; ++i) {
    EXPECT_LE(pool.apply(open_descriptors), before + 1);
  }
  pool.close();
  pool.join();
}

TEST_P(SharedData, AWorkerRetiredAfterItsTaskStillHandsOverItsArray) {
  mp::PoolOptions o = options(1);
  o.maxtasksperchild = 1;
  mp::Pool pool(o);
  for (int seed = 0; seed < 5; ++seed) {
    expect_made_in_task(pool.apply(made_in_task, seed), seed);
  }
  pool.close();
  pool.join();
}

TEST_F(SharedBasics, AccessAndMisuse) {
  mp::RawArray<int> a{1, 2, 3};
  EXPECT_EQ(a.to_vector(), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(std::accumulate(a.begin(), a.end(), 0), 6);
  EXPECT_THROW(a.at(3), std::out_of_range);
  mp::Array<int> locked(4);
  locked.update([](std::span<int> s) { s[1] = 9; });
  EXPECT_EQ(locked.snapshot(), (std::vector<int>{0, 9, 0, 0}));
  mp::Value<double> v(1.5);
  v.store(2.5);
  EXPECT_EQ(v.load(), 2.5);
  EXPECT_EQ(v.update([](double& d) { return d *= 2; }), 5.0);
  mp::Lock lock;
  mp::Lock moved = std::move(lock);
  EXPECT_THROW(lock.acquire(), std::logic_error);  // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(moved.try_acquire());
  EXPECT_THROW(mp::RawArray<char>(std::size_t{1} << 50), std::length_error);
}

MP_TEST_ALL_START_METHODS(SharedData);

}  // namespace
