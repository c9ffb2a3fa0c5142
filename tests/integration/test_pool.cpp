// mp::Pool: the calls, their ordering and chunking, workers' lifecycle.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <list>
#include <map>
#include <mp/mp.hpp>
#include <numeric>
#include <ranges>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "helpers/hygiene.hpp"
#include "helpers/inputs.hpp"

namespace {

using namespace std::chrono_literals;
using PoolTest = mp::test::HygieneTest;

int square(int x) { return x * x; }
long add3(int a, long b, short c) { return a + b + c; }
pid_t worker_pid(int) { return ::getpid(); }
int slow_identity(int x) {
  if (x % 7 == 0) ::usleep(2000);
  return x;
}

// Ranges written out rather than taken from std::views, which clang 14 cannot compile
// with libstdc++ 12.

// 0, 1, 2, ... without end and without size.
struct Naturals {
  struct iterator {
    using value_type = int;
    using difference_type = std::ptrdiff_t;
    int i = 0;
    int operator*() const { return i; }
    iterator& operator++() {
      ++i;
      return *this;
    }
    void operator++(int) { ++i; }
    bool operator==(std::default_sentinel_t) const { return false; }
  };
  iterator begin() const { return {}; }
  std::default_sentinel_t end() const { return {}; }
};

// The odd numbers below `limit`: a finite range that does not know its size.
struct OddBelow {
  int limit;
  struct iterator {
    using value_type = int;
    using difference_type = std::ptrdiff_t;
    int i = 1;
    int operator*() const { return i; }
    iterator& operator++() {
      i += 2;
      return *this;
    }
    void operator++(int) { i += 2; }
    bool operator==(const iterator&) const = default;
  };
  iterator begin() const { return {1}; }
  iterator end() const { return {limit | 1}; }
};

using mp::test::iota;

std::vector<int> squares(int n) {
  std::vector<int> v;
  for (int i = 0; i < n; ++i) v.push_back(i * i);
  return v;
}

struct Scale {
  double factor;
  std::string unit;
  double operator()(double x) const { return x * factor; }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(factor, unit);
  }
};

struct Point {
  std::string label;
  std::vector<double> xs;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(label, xs);
  }
};

TEST_F(PoolTest, MapKeepsInputOrder) {
  mp::Pool pool(2);
  EXPECT_EQ(pool.processes(), 2);
  EXPECT_EQ(pool.map(square, iota(1000)), squares(1000));
  EXPECT_EQ(pool.map(slow_identity, iota(300), 1), iota(300));
  pool.close();
  pool.join();
}

TEST_F(PoolTest, DefaultsToCpuCount) {
  mp::Pool pool;
  EXPECT_EQ(pool.processes(), mp::cpu_count());
  EXPECT_EQ(static_cast<int>(pool.pids().size()), mp::cpu_count());
}

TEST_F(PoolTest, ChunksizeEdgeCases) {
  mp::Pool pool(2);
  const auto xs = iota(57);
  EXPECT_EQ(pool.map(square, xs, 1), squares(57));
  EXPECT_EQ(pool.map(square, xs, 10), squares(57));
  EXPECT_EQ(pool.map(square, xs, 1000), squares(57));
  EXPECT_THROW(pool.map(square, xs, 0), std::invalid_argument);
  EXPECT_THROW(pool.map(square, xs, -3), std::invalid_argument);
  EXPECT_THROW(pool.imap(square, xs, 0), std::invalid_argument);
  try {
    pool.map(square, xs, 0);
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("not 0"), std::string::npos) << e.what();
  }
  // The pool is still usable after rejected calls.
  EXPECT_EQ(pool.map(square, xs), squares(57));
}

TEST_F(PoolTest, DefaultChunksizeFollowsPython) {
  EXPECT_EQ(mp::detail::default_chunksize(1000, 2), 125u);  // divmod(1000, 8) -> 125
  EXPECT_EQ(mp::detail::default_chunksize(1001, 2), 126u);  // remainder rounds up
  EXPECT_EQ(mp::detail::default_chunksize(3, 4), 1u);
}

TEST_F(PoolTest, EmptyInput) {
  mp::Pool pool(2);
  EXPECT_TRUE(pool.map(square, std::vector<int>{}).empty());
  EXPECT_TRUE(pool.map(square, std::vector<int>{}, 5).empty());
  int n = 0;
  for (int y : pool.imap(square, std::vector<int>{})) n += y + 1;
  EXPECT_EQ(n, 0);
  EXPECT_TRUE(pool.map_async(square, std::vector<int>{}).get().empty());
}

TEST_F(PoolTest, HundredThousandTasks) {
  mp::Pool pool(2);
  auto xs = iota(100'000);
  auto ys = pool.map([](int x) { return x + 1; }, xs, 1);
  ASSERT_EQ(ys.size(), xs.size());
  for (std::size_t i = 0; i < ys.size(); ++i) ASSERT_EQ(ys[i], xs[i] + 1);
  long total = 0;
  for (int y : pool.imap_unordered([](int x) { return x; }, xs, 1)) total += y;
  EXPECT_EQ(total, 99'999L * 100'000 / 2);
}

TEST_F(PoolTest, Starmap) {
  mp::Pool pool(2);
  std::vector<std::tuple<int, long, short>> args;
  for (int i = 0; i < 50; ++i) args.emplace_back(i, 1000L * i, static_cast<short>(1));
  auto out = pool.starmap(add3, args);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(out[static_cast<std::size_t>(i)], 1001L * i + 1);
  std::vector<std::pair<int, int>> pairs{{1, 2}, {3, 4}};
  EXPECT_EQ(pool.starmap([](int a, int b) { return a * b; }, pairs, 1), (std::vector<int>{2, 12}));
}

TEST_F(PoolTest, ApplyAndApplyAsync) {
  mp::Pool pool(2);
  EXPECT_EQ(pool.apply(square, 9), 81);
  EXPECT_EQ(pool.apply(add3, 1, 2L, static_cast<short>(3)), 6);
  auto r = pool.apply_async(square, 7);
  r.wait();
  EXPECT_TRUE(r.ready());
  EXPECT_TRUE(r.successful());
  EXPECT_EQ(r.get(), 49);
  EXPECT_EQ(r.get(), 49);  // get() may be called again
  EXPECT_EQ(r.get(1s), 49);
  std::vector<mp::AsyncResult<int>> many;
  for (int i = 0; i < 100; ++i) many.push_back(pool.apply_async(square, i));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(many[static_cast<std::size_t>(i)].get(), i * i);
  pool.apply([](int) {}, 1);  // void result
}

TEST_F(PoolTest, AsyncGetTimesOut) {
  mp::Pool pool(1);
  auto r =
      pool.apply_async([](int ms) { return ::usleep(static_cast<useconds_t>(ms) * 1000); }, 300);
  EXPECT_FALSE(r.ready());
  EXPECT_THROW(r.successful(), std::logic_error);
  EXPECT_THROW(r.get(20ms), mp::TimeoutError);
  EXPECT_FALSE(r.wait(1ms));
  EXPECT_EQ(r.get(), 0);
}

TEST_F(PoolTest, MapAsyncRunsWhileCallerWaitsElsewhere) {
  mp::Pool pool(2);
  auto r = pool.map_async(square, iota(5000), 100);
  EXPECT_EQ(std::move(r).get(), squares(5000));
}

TEST_F(PoolTest, ImapIsOrderedAndLazy) {
  mp::Pool pool(2);
  std::vector<int> got;
  for (int y : pool.imap(slow_identity, iota(200), 3)) got.push_back(y);
  EXPECT_EQ(got, iota(200));

  // An endless input: only a bounded window is read ahead.
  static_assert(!std::ranges::sized_range<Naturals>);
  auto it = pool.imap(square, Naturals{}, 4);
  int n = 0;
  for (int y : it) {
    EXPECT_EQ(y, n * n);
    if (++n == 1000) break;
  }
  EXPECT_EQ(n, 1000);
}

TEST_F(PoolTest, ImapUnorderedReturnsEveryResultOnce) {
  mp::Pool pool(2);
  std::multiset<int> got;
  for (int y : pool.imap_unordered(slow_identity, iota(500), 7)) got.insert(y);
  const auto all = iota(500);
  EXPECT_EQ(got, std::multiset<int>(all.begin(), all.end()));
  auto r = pool.imap_unordered(square, iota(3));
  int count = 0;
  while (auto v = r.next(5s)) {
    EXPECT_LT(*v, 5);
    ++count;
  }
  EXPECT_EQ(count, 3);
}

TEST_F(PoolTest, NonRandomAccessAndUnsizedInputs) {
  mp::Pool pool(2);
  std::list<int> l{3, 1, 2};
  EXPECT_EQ(pool.map(square, l), (std::vector<int>{9, 1, 4}));
  static_assert(!std::ranges::sized_range<OddBelow>);
  EXPECT_EQ(pool.map(square, OddBelow{20}),
            (std::vector<int>{1, 9, 25, 49, 81, 121, 169, 225, 289, 361}));
  std::map<std::string, int> m{{"a", 1}, {"b", 2}};
  auto kv = pool.map(
      [](const std::pair<const std::string, int>& p) { return p.first + std::to_string(p.second); },
      m);
  EXPECT_EQ(kv, (std::vector<std::string>{"a1", "b2"}));
}

// Plain values side by side (a vector, a window of one, an array) are sent a chunk at a
// time as their bytes: every chunk must start where the previous one ended.
struct Cell {
  int row;
  double weight;
};
TEST_F(PoolTest, ContiguousPlainInputsArriveInOrderInEveryChunk) {
  mp::Pool pool(2);
  std::vector<Cell> cells;
  for (int i = 0; i < 5000; ++i) cells.push_back({i, i * 0.5});
  auto weigh = [](const Cell& c) { return c.row + c.weight; };
  std::vector<double> expected;
  for (const Cell& c : cells) expected.push_back(c.row + c.weight);
  EXPECT_EQ(pool.map(weigh, cells, 7), expected);
  EXPECT_EQ(pool.map(weigh, cells), expected);
  const std::span<const Cell> window(cells.data() + 13, 1000);
  EXPECT_EQ(pool.map(weigh, window, 9),
            std::vector<double>(expected.begin() + 13, expected.begin() + 1013));
  const std::array<int, 5> five{5, 4, 3, 2, 1};
  EXPECT_EQ(pool.map(square, five, 2), (std::vector<int>{25, 16, 9, 4, 1}));
  // A chunk of 3 M ints (12 MB) goes through the large-message buffer.
  const auto many = iota(3'000'000);
  const auto back = pool.map([](int x) { return x - 1; }, many, 3'000'000);
  ASSERT_EQ(back.size(), many.size());
  EXPECT_EQ(back.front(), -1);
  EXPECT_EQ(back[1'234'567], 1'234'566);
  EXPECT_EQ(back.back(), 2'999'998);
}

TEST_F(PoolTest, CallablesWithState) {
  mp::Pool pool(2);
  const int offset = static_cast<int>(iota(101).back());
  EXPECT_EQ(pool.map([offset](int x) { return x + offset; }, iota(3)),
            (std::vector<int>{100, 101, 102}));
  Scale s{2.5, "m"};
  EXPECT_EQ(pool.map(s, std::vector<double>{1, 2}), (std::vector<double>{2.5, 5.0}));
}

TEST_F(PoolTest, RichArgumentAndResultTypes) {
  mp::Pool pool(2);
  std::vector<Point> pts{{"a", {1, 2, 3}}, {"b", {}}, {"c", {4}}};
  auto sums = pool.map(
      [](const Point& p) {
        return std::make_pair(p.label, std::accumulate(p.xs.begin(), p.xs.end(), 0.0));
      },
      pts);
  EXPECT_EQ(sums[0], std::make_pair(std::string("a"), 6.0));
  EXPECT_EQ(sums[2], std::make_pair(std::string("c"), 4.0));
  auto strs =
      pool.map([](int n) { return std::string(static_cast<std::size_t>(n), 'x'); }, iota(4));
  EXPECT_EQ(strs, (std::vector<std::string>{"", "x", "xx", "xxx"}));
  auto opt = pool.map([](int n) { return n % 2 ? std::optional<int>(n) : std::nullopt; }, iota(3));
  EXPECT_EQ(opt, (std::vector<std::optional<int>>{std::nullopt, 1, std::nullopt}));
}

TEST_F(PoolTest, LargePayloadsBothWays) {
  mp::Pool pool(2);
  std::vector<std::uint8_t> big(64u << 20);
  for (std::size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<std::uint8_t>(i >> 12);
  auto checksum = [](const std::vector<std::uint8_t>& v) {
    std::uint64_t s = 0;
    for (std::size_t i = 0; i < v.size(); i += 4096) s += v[i] * (i >> 12);
    return s;
  };
  const std::uint64_t expect = checksum(big);
  EXPECT_EQ(pool.apply(checksum, big), expect);
  auto back = pool.apply(
      [](std::size_t n) {
        std::vector<std::uint8_t> v(n);
        for (std::size_t i = 0; i < n; i += 4096) v[i] = static_cast<std::uint8_t>(i >> 12);
        return v;
      },
      big.size());
  EXPECT_EQ(back, big);
  // Several large messages in a row, in both directions at once.
  auto echoes = pool.map(
      [](const std::vector<std::uint8_t>& v) { return v; },
      std::vector<std::vector<std::uint8_t>>(6, std::vector<std::uint8_t>(3u << 20, 7)), 1);
  for (const auto& e : echoes) EXPECT_EQ(e, std::vector<std::uint8_t>(3u << 20, 7));
}

// Results of 8 MiB or more are announced while the worker writes them, and the caller
// prepares storage for them meanwhile; each result must still be exactly its own value,
// holding no more memory than its size, in whatever order the sizes come.
TEST_F(PoolTest, LargeResultsOfMixedSizesComeBackExact) {
  mp::Pool pool(2);
  const std::vector<std::size_t> mib{9, 40, 12, 40, 24, 1};
  auto make = [](std::size_t m) {
    std::vector<std::uint32_t> v((m << 20) / sizeof(std::uint32_t));
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<std::uint32_t>(i * m);
    return v;
  };
  auto check = [&](const std::vector<std::uint32_t>& got, std::size_t m) {
    EXPECT_EQ(got, make(m)) << m << " MiB";
    EXPECT_EQ(got.capacity(), got.size()) << m << " MiB";
  };
  const auto in_one_chunk = pool.map(make, mib, mib.size());
  for (std::size_t i = 0; i < mib.size(); ++i) check(in_one_chunk[i], mib[i]);
  const auto one_per_chunk = pool.map(make, mib, 1);
  for (std::size_t i = 0; i < mib.size(); ++i) check(one_per_chunk[i], mib[i]);
  std::size_t i = 0;
  for (const auto& v : pool.imap(make, mib, 2)) check(v, mib[i++]);
  EXPECT_EQ(i, mib.size());
  const std::string text = pool.apply([](std::size_t n) { return std::string(n, 't'); }, 20u << 20);
  EXPECT_EQ(text, std::string(20u << 20, 't'));
}

// A worker decodes a large task while the caller is still writing it; every path of the
// codec must read its value whole from such a message.
struct Samples {
  std::string label;
  std::vector<double> xs;
  std::map<int, std::string> notes;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(label, xs, notes);
  }
};

TEST_F(PoolTest, LargeArgumentsArriveWholeOnEveryCodecPath) {
  mp::Pool pool(2);
  std::vector<std::uint32_t> ints((24u << 20) / 4);
  std::iota(ints.begin(), ints.end(), 0u);
  auto sum = [](const std::vector<std::uint32_t>& v) {
    return std::accumulate(v.begin(), v.end(), std::uint64_t{0});
  };
  const std::uint64_t expect = std::accumulate(ints.begin(), ints.end(), std::uint64_t{0});
  EXPECT_EQ(pool.apply(sum, ints), expect);
  // Several in one message, and one per message.
  EXPECT_EQ(pool.map(sum, std::vector<std::vector<std::uint32_t>>(3, ints), 3),
            std::vector<std::uint64_t>(3, expect));
  EXPECT_EQ(pool.map(sum, std::vector<std::vector<std::uint32_t>>(3, ints), 1),
            std::vector<std::uint64_t>(3, expect));

  const std::string text(20u << 20, 'x');
  EXPECT_EQ(
      pool.apply([](const std::string& t) { return std::count(t.begin(), t.end(), 'x'); }, text),
      static_cast<long>(text.size()));

  // After one byte, the doubles are not 8-byte aligned in the message.
  std::vector<double> xs(2u << 20);
  std::iota(xs.begin(), xs.end(), 0.5);
  auto weighted = [](char k, const std::vector<double>& v) {
    return k * std::accumulate(v.begin(), v.end(), 0.0);
  };
  EXPECT_EQ(pool.apply(weighted, char{3}, xs), 3 * std::accumulate(xs.begin(), xs.end(), 0.0));

  // cereal: a user type, and elements that are not plain bytes.
  Samples big{"big", xs, {}};
  for (int i = 0; i < 1000; ++i) big.notes[i] = std::string(4096, static_cast<char>('a' + i % 26));
  auto describe = [](const Samples& s) {
    std::size_t bytes = s.label.size() + s.xs.size() * sizeof(double);
    for (const auto& [k, v] : s.notes) bytes += sizeof k + v.size();
    return bytes;
  };
  EXPECT_EQ(pool.apply(describe, big), describe(big));
  const std::vector<std::string> words(3000, std::string(4096, 'w'));
  EXPECT_EQ(
      pool.apply([](const std::vector<std::string>& w) { return w.size() * w[0].size(); }, words),
      words.size() * 4096);
  // More elements than the bytes that have arrived when the worker starts decoding.
  const std::vector<std::string> short_words(2'000'000, "abc");
  EXPECT_EQ(pool.apply([](const std::vector<std::string>& w) { return w.size(); }, short_words),
            short_words.size());
}

TEST_F(PoolTest, OneGibibyteResult) {
  mp::Pool pool(1);
  const std::size_t n = std::size_t{1} << 30;
  auto v = pool.apply(
      [](std::size_t size) {
        std::vector<char> out(size, 'a');
        out.back() = 'z';
        return out;
      },
      n);
  ASSERT_EQ(v.size(), n);
  EXPECT_EQ(v.front(), 'a');
  EXPECT_EQ(v.back(), 'z');
}

TEST_F(PoolTest, WorkersAreReusedAndVisible) {
  mp::Pool pool(2);
  auto pids = pool.map(worker_pid, iota(40), 1);
  std::set<pid_t> distinct(pids.begin(), pids.end());
  EXPECT_LE(distinct.size(), 2u);
  const auto current = pool.pids();
  for (pid_t p : distinct) {
    EXPECT_NE(p, ::getpid());
    EXPECT_NE(std::find(current.begin(), current.end(), p), current.end());
  }
  auto names = pool.map([](int) { return mp::current_process().name(); }, iota(4), 1);
  for (const auto& n : names) EXPECT_EQ(n.rfind("PoolWorker-", 0), 0u) << n;
}

int g_initialized = 0;
void init_worker(int value) { g_initialized = value; }

TEST_F(PoolTest, InitializerRunsInEveryWorker) {
  mp::PoolOptions o;
  o.processes = 2;
  o.initializer = mp::bind_initializer(init_worker, 42);
  mp::Pool pool(o);
  auto seen = pool.map([](int) { return g_initialized; }, iota(20), 1);
  EXPECT_EQ(seen, std::vector<int>(20, 42));
  EXPECT_EQ(g_initialized, 0);  // the parent is untouched
}

TEST_F(PoolTest, MaxTasksPerChildRecyclesWorkers) {
  mp::PoolOptions o;
  o.processes = 2;
  o.maxtasksperchild = 3;
  mp::Pool pool(o);
  auto pids = pool.map(worker_pid, iota(30), 1);
  std::map<pid_t, int> per_pid;
  for (pid_t p : pids) ++per_pid[p];
  EXPECT_GE(per_pid.size(), 10u);  // 30 tasks, at most 3 per worker
  for (auto [pid, n] : per_pid) EXPECT_LE(n, 3) << "worker " << pid;
  pool.close();
  pool.join();
}

TEST_F(PoolTest, CloseJoinTerminateSemantics) {
  mp::Pool pool(2);
  EXPECT_THROW(pool.join(), std::logic_error);  // still running
  auto r = pool.map_async(square, iota(100));
  pool.close();
  EXPECT_THROW(pool.map(square, iota(3)), std::logic_error);
  EXPECT_THROW(pool.apply_async(square, 1), std::logic_error);
  pool.join();  // queued work still completes
  EXPECT_EQ(std::move(r).get(), squares(100));
  pool.join();  // twice is harmless
}

TEST_F(PoolTest, JoinWithTimeoutReturnsFalseWhileTasksRun) {
  mp::Pool pool(1);
  auto r = pool.map_async(
      [](int x) {
        ::usleep(300'000);
        return x;
      },
      iota(2), 1);
  pool.close();
  EXPECT_FALSE(pool.join(50ms));
  EXPECT_EQ(pool.pids().size(), 1u);
  EXPECT_TRUE(pool.join(20s));
  EXPECT_EQ(std::move(r).get(), iota(2));
  EXPECT_TRUE(pool.join(0ms));
}

TEST_F(PoolTest, TerminateFailsPendingWork) {
  mp::Pool pool(2);
  auto r = pool.apply_async([](int s) { return ::sleep(static_cast<unsigned>(s)); }, 30);
  pool.terminate();
  EXPECT_THROW(r.get(), mp::BrokenPool);
  EXPECT_THROW(pool.map(square, iota(3)), std::logic_error);
  pool.join();
}

TEST_F(PoolTest, DestructorTerminatesWorkers) {
  std::vector<pid_t> pids;
  {
    mp::Pool pool(2);
    pids = pool.pids();
    (void)pool.apply_async([](int s) { return ::sleep(static_cast<unsigned>(s)); }, 30);
  }
  for (pid_t p : pids) EXPECT_NE(::kill(p, 0), 0) << "worker " << p << " survived";
}

TEST_F(PoolTest, ResultOutlivingPoolFailsCleanly) {
  std::optional<mp::AsyncResult<unsigned>> r;
  {
    mp::Pool pool(1);
    r.emplace(pool.apply_async([](int s) { return ::sleep(static_cast<unsigned>(s)); }, 30));
  }
  EXPECT_THROW(r->get(), mp::BrokenPool);
}

TEST(PoolRandom, StreamsDiffer) {
  mp::Random a(7, 0), b(7, 1), a2(7, 0);
  EXPECT_NE(a(), b());
  mp::Random c(7, 0);
  EXPECT_EQ(c(), a2());
  for (int i = 0; i < 1000; ++i) {
    const double u = a.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
  }
}

}  // namespace
