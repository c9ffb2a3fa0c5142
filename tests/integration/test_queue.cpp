// Queues between processes started every way: every item arrives exactly once and in
// each producer's order, whatever its size; timeouts, Full/Empty and close behave as in
// Python; a producer may exit right after put.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <mp/mp.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <variant>
#include <vector>

#include "helpers/hygiene.hpp"
#include "helpers/start_methods.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using Queues = mp::test::StartMethodTest;
using QueueBasics = mp::test::HygieneTest;

void join_ok(mp::Process& p) { mp::test::join_ok(p, 60s); }

constexpr int kPerProducer = 3000;
using Item = std::pair<int, int>;             // producer, sequence number
using Forwarded = std::tuple<int, int, int>;  // consumer, producer, sequence number

void produce(mp::Queue<Item> q, int producer) {
  for (int i = 0; i < kPerProducer; ++i) q.put({producer, i});
}

// Forwards what it gets, in the order it got it, until the poison pill (producer -1).
void consume(mp::Queue<Item> q, mp::Queue<Forwarded> out, int consumer) {
  for (Item it = q.get(); it.first >= 0; it = q.get()) out.put({consumer, it.first, it.second});
}

TEST_P(Queues, EveryItemArrivesOnceInItsProducersOrder) {
  constexpr int kProducers = 3, kConsumers = 2;
  mp::Queue<Item> q;
  mp::Queue<Forwarded> out;
  std::vector<mp::Process> producers, consumers;
  for (int c = 0; c < kConsumers; ++c) consumers.push_back(start_process(consume, q, out, c));
  for (int p = 0; p < kProducers; ++p) producers.push_back(start_process(produce, q, p));
  for (auto& p : producers) join_ok(p);
  for (int c = 0; c < kConsumers; ++c) q.put({-1, 0});  // one pill per consumer
  std::set<Item> seen;
  std::map<std::pair<int, int>, int> last;  // (consumer, producer) -> last sequence number
  for (int i = 0; i < kProducers * kPerProducer; ++i) {
    const auto [consumer, producer, seq] = out.get(30s);
    EXPECT_TRUE(seen.insert({producer, seq}).second) << "twice: " << producer << "/" << seq;
    auto [at, fresh] = last.try_emplace({consumer, producer}, seq);
    if (!fresh) {
      EXPECT_GT(seq, at->second) << "out of order from producer " << producer;
      at->second = seq;
    }
  }
  for (auto& c : consumers) join_ok(c);
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kProducers * kPerProducer));
  EXPECT_TRUE(q.empty());
  EXPECT_TRUE(out.empty());
}

void put_and_exit(mp::Queue<std::vector<char>> q) { q.put(std::vector<char>(1 << 20, 'x')); }

TEST_P(Queues, AProducerMayExitRightAfterPut) {
  // Python's docs: joining a process before draining what it put deadlocks.
  mp::Queue<std::vector<char>> q;
  mp::Process p = start_process(put_and_exit, q);
  join_ok(p);
  EXPECT_EQ(q.get(10s).size(), std::size_t{1} << 20);
}

void put_in_order(mp::Queue<int> q, int n) {
  for (int i = 0; i < n; ++i) q.put(i);
}

TEST_P(Queues, AReaderThatFallsBehindGetsEveryItemIntact) {
  // The ring fills again and again while the reader moves: the writer's view of the free
  // room must never run ahead of the reader (it once did, after a growth that a reader
  // made unnecessary, and items were overwritten unread).
  constexpr int kItems = 400000;
  mp::Queue<int> q;
  mp::Process p = start_process(put_in_order, q, kItems);
  int wrong = 0;
  for (int i = 0; i < kItems; ++i) {
    const int v = q.get(30s);
    if (v != i && wrong++ == 0) ADD_FAILURE() << "item " << i << " came as " << v;
    if (i % 64 == 0) {
      const auto until = Clock::now() + 2us;  // a little slower than the writer
      while (Clock::now() < until) {
      }
    }
  }
  join_ok(p);
  EXPECT_EQ(wrong, 0);
}

void echo_sizes(mp::Queue<std::vector<char>> in, mp::Queue<std::size_t> out) {
  for (int i = 0; i < 3; ++i) {
    const std::vector<char> v = in.get();
    std::size_t ok = v.size();
    for (std::size_t k = 0; k < v.size(); k += 4096) {
      if (v[k] != static_cast<char>(k / 4096)) ok = 0;
    }
    out.put(ok);
  }
}

TEST_P(Queues, ItemsOfNoBytesAndOfAHundredMiB) {
  mp::Queue<std::vector<char>> in;
  mp::Queue<std::size_t> out;
  mp::Process p = start_process(echo_sizes, in, out);
  const std::size_t big = std::size_t{100} << 20;
  std::vector<char> v(big);
  for (std::size_t k = 0; k < v.size(); k += 4096) v[k] = static_cast<char>(k / 4096);
  in.put({});
  in.put(v);
  in.put({});
  EXPECT_EQ(out.get(60s), 0u);
  EXPECT_EQ(out.get(60s), big);
  EXPECT_EQ(out.get(60s), 0u);
  join_ok(p);
}

void work_through(mp::JoinableQueue<int> q, mp::Value<long> sum) {
  for (;;) {
    const int x = q.get();
    if (x < 0) {
      q.task_done();
      return;
    }
    sum.update([x](long& s) { s += x; });
    q.task_done();
  }
}

TEST_P(Queues, JoinWaitsUntilEveryTaskIsDone) {
  mp::JoinableQueue<int> q;
  mp::Value<long> sum(0);
  for (int i = 1; i <= 100; ++i) q.put(i);
  mp::Process p = start_process(work_through, q, sum);
  q.join();
  EXPECT_EQ(sum.load(), 5050);
  q.put(-1);
  EXPECT_TRUE(q.join(30s));
  join_ok(p);
  EXPECT_THROW(q.task_done(), std::logic_error);
}

TEST_F(QueueBasics, FullEmptyAndTimeouts) {
  mp::Queue<int> q(2);
  EXPECT_TRUE(q.empty());
  q.put(1);
  q.put_nowait(2);
  EXPECT_TRUE(q.full());
  EXPECT_EQ(q.qsize(), 2u);
  EXPECT_THROW(q.put_nowait(3), mp::Full);
  auto t0 = Clock::now();
  EXPECT_THROW(q.put(3, 50ms), mp::Full);
  EXPECT_GE(Clock::now() - t0, 50ms);
  EXPECT_THROW(q.put(3, -1s), mp::Full);
  EXPECT_EQ(q.get(), 1);
  EXPECT_EQ(q.get_nowait(), 2);
  EXPECT_THROW(q.get_nowait(), mp::Empty);
  EXPECT_FALSE(q.try_get().has_value());
  t0 = Clock::now();
  EXPECT_THROW(q.get(40ms), mp::Empty);
  EXPECT_GE(Clock::now() - t0, 40ms);
  // A put that was waiting for room gets it when a getter takes an item.
  q.put(5);
  q.put(6);
  std::thread getter([q]() mutable {
    std::this_thread::sleep_for(30ms);
    EXPECT_EQ(q.get(), 5);
  });
  q.put(7, 10s);
  getter.join();
  EXPECT_EQ(q.get(), 6);
  EXPECT_EQ(q.get(), 7);
}

TEST_F(QueueBasics, ACloseStopsOnlyThisHandle) {
  mp::Queue<std::string> q;
  mp::Queue<std::string> other = q;
  q.put("kept");
  q.close();
  EXPECT_TRUE(q.closed());
  EXPECT_THROW(q.put("x"), std::logic_error);
  EXPECT_THROW(q.get(), std::logic_error);
  EXPECT_EQ(other.get(), "kept");
}

TEST_F(QueueBasics, ManyThreadsManyItemsAcrossTheRingsGrowth) {
  mp::Queue<std::string> q;
  std::vector<std::thread> ts;
  for (int t = 0; t < 3; ++t)
    ts.emplace_back([q, t]() mutable {
      for (int i = 0; i < 2000; ++i) q.put(std::string(static_cast<std::size_t>(i % 700), 'a' + t));
    });
  std::size_t bytes = 0;
  for (int i = 0; i < 6000; ++i) bytes += q.get(30s).size();
  for (auto& t : ts) t.join();
  std::size_t want = 0;
  for (int i = 0; i < 2000; ++i) want += static_cast<std::size_t>(i % 700);
  EXPECT_EQ(bytes, 3 * want);
  EXPECT_TRUE(q.empty());
}

// Bytes whose every position depends on the item's number, so a byte from another item
// or from a stale part of the ring shows.
std::string patterned(int item, std::size_t size) {
  std::string s(size, '\0');
  for (std::size_t k = 0; k < size; ++k)
    s[k] = static_cast<char>(item * 31 + static_cast<int>(k % 251));
  return s;
}

TEST_F(QueueBasics, ItemsWrittenAcrossTheRingsEndAndItsGrowthArriveIntact) {
  // put() encodes in place up to the ring's end and moves an item that outgrows the room
  // to memory of its own; the reader lags, so the ring wraps and grows under both.
  const std::size_t sizes[] = {0, 7, 4096, 70000, 300001, 13};
  mp::Queue<std::string> q;
  int next_get = 0, wrong = 0;
  const auto take = [&] {
    const std::string got = q.get(10s);
    if (got != patterned(next_get, sizes[next_get % 6]) && wrong++ == 0) {
      ADD_FAILURE() << "item " << next_get << " (" << sizes[next_get % 6] << " bytes) came as "
                    << got.size() << " bytes that differ";
    }
    ++next_get;
  };
  for (int i = 0; i < 1500; ++i) {
    q.put(patterned(i, sizes[i % 6]));
    if (i % 3 != 0) take();
  }
  while (next_get < 1500) take();
  EXPECT_EQ(wrong, 0);
  EXPECT_TRUE(q.empty());
}

// An item whose encoding throws after writing `written` bytes.
struct FailsToEncode {
  std::size_t written = 0;
  template <class Archive>
  void save(Archive& ar) const {
    ar(std::string(written, 'z'));
    throw std::runtime_error("cannot save this one");
  }
  template <class Archive>
  void load(Archive&) {}
};
using Either = std::variant<std::string, FailsToEncode>;

TEST_F(QueueBasics, AnItemThatFailsToEncodeLeavesTheQueueAsItWas) {
  // Small and large: a large one fails after it has left the ring for memory of its own.
  for (const std::size_t written : {std::size_t{10}, std::size_t{3} << 20}) {
    mp::Queue<Either> q;
    q.put(std::string("before"));
    EXPECT_THROW(q.put(FailsToEncode{written}), std::runtime_error);
    EXPECT_EQ(q.qsize(), 1u);
    q.put(std::string(200000, 'a'));
    EXPECT_EQ(std::get<std::string>(q.get(10s)), "before");
    EXPECT_EQ(std::get<std::string>(q.get(10s)), std::string(200000, 'a'));
    EXPECT_THROW(q.get_nowait(), mp::Empty);
  }
}

TEST_F(QueueBasics, SimpleQueueAndBadArguments) {
  mp::SimpleQueue<double> s;
  EXPECT_TRUE(s.empty());
  s.put(1.5);
  EXPECT_FALSE(s.empty());
  EXPECT_EQ(s.get(), 1.5);
  EXPECT_THROW(mp::Queue<int>(std::size_t{1} << 33), std::invalid_argument);
}

MP_TEST_ALL_START_METHODS(Queues);

}  // namespace
