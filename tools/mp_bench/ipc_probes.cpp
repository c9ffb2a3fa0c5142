#include "ipc_probes.hpp"

#include <mp/pipe.hpp>
#include <mp/pool.hpp>
#include <mp/process.hpp>
#include <mp/queue.hpp>
#include <mp/shared.hpp>
#include <mp/sync.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace mp_bench::ipc {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

void sum_ints(mp::Queue<int> q, mp::Event ready, int items, mp::RawValue<long long> sum) {
  ready.set();
  long long s = 0;
  for (int i = 0; i < items; ++i) {
    s += q.get();
  }
  sum.store(s);
}

void count_bytes(mp::Queue<std::vector<char>> q, mp::Event ready, int items,
                 mp::RawValue<long long> sum) {
  ready.set();
  long long s = 0;
  for (int i = 0; i < items; ++i) {
    s += static_cast<long long>(q.get().size());
  }
  sum.store(s);
}

void echo(mp::Queue<int> in, mp::Queue<int> out, int trips) {
  for (int i = 0; i < trips; ++i) {
    out.put(in.get() + 1);
  }
}

void echo_pipe(mp::Connection<int> c, int trips) {
  for (int i = 0; i < trips; ++i) {
    c.send(c.recv() + 1);
  }
}

void add_under_lock(mp::Lock lock, mp::RawValue<long long> counter, int pairs) {
  for (int i = 0; i < pairs; ++i) {
    std::lock_guard g(lock);
    counter.get() += 1;
  }
}

}  // namespace

peers::RoundTrips queue_stream(int items, std::size_t item_bytes) {
  mp::Event ready;
  mp::RawValue<long long> sum(0);
  if (item_bytes == 0) {
    mp::Queue<int> q;
    mp::Process p(sum_ints, q, ready, items, sum);
    p.start();
    ready.wait();
    const auto t0 = Clock::now();
    for (int i = 0; i < items; ++i) {
      q.put(i);
    }
    p.join();
    const double t = seconds_since(t0);
    return {t / items, sum.load() == static_cast<long long>(items) * (items - 1) / 2};
  }
  mp::Queue<std::vector<char>> q;
  mp::Process p(count_bytes, q, ready, items, sum);
  p.start();
  ready.wait();
  const std::vector<char> item(item_bytes, 'x');
  const auto t0 = Clock::now();
  for (int i = 0; i < items; ++i) {
    q.put(item);
  }
  p.join();
  const double t = seconds_since(t0);
  return {t / items, sum.load() == static_cast<long long>(items * item_bytes)};
}

// Times `trips` round trips of an int through `trip` (x -> the child's x + 1), after 100
// that let the child start and map what it uses; `p` is the started echoing child.
template <class Trip>
peers::RoundTrips time_round_trips(mp::Process& p, int trips, Trip trip) {
  int x = 0;
  double t = 0;
  try {
    for (int i = 0; i < 100; ++i) {
      x = trip(x);
    }
    const auto t0 = Clock::now();
    for (int i = 0; i < trips; ++i) {
      x = trip(x);
    }
    t = seconds_since(t0);
  } catch (const std::exception& e) {
    // Whatever ended the trips, the child's own end says most about it.
    std::string child = "still running";
    if (p.join(std::chrono::seconds(5))) {
      child = "exit code " + (p.exitcode() ? std::to_string(*p.exitcode()) : "unknown");
      try {
        if (std::exception_ptr ep = p.exception()) {
          std::rethrow_exception(ep);
        }
      } catch (const std::exception& why) {
        child += ", " + std::string(why.what());
      }
    }
    throw std::runtime_error(std::string(e.what()) + " (after " + std::to_string(x) +
                             " round trips; the echoing child: " + child + ")");
  }
  p.join();
  return {t / trips, x == trips + 100 && p.exitcode() == 0};
}

peers::RoundTrips queue_round_trips(int trips) {
  mp::Queue<int> to, from;
  mp::Process p(echo, to, from, trips + 100);
  p.start();
  return time_round_trips(p, trips, [&](int x) {
    to.put(x);
    return from.get();
  });
}

peers::RoundTrips pipe_round_trips(int trips) {
  // Not a structured binding: clang 14 cannot capture one in a lambda.
  auto ends = mp::Pipe<int>();
  mp::Connection<int> mine = ends.first;
  mp::Connection<int> theirs = ends.second;
  mp::Process p(echo_pipe, theirs, trips + 100);
  p.start();
  theirs.close();
  return time_round_trips(p, trips, [&mine](int x) {
    mine.send(x);
    return mine.recv();
  });
}

peers::RoundTrips lock_uncontended(int pairs) {
  mp::Lock lock;
  mp::RawValue<long long> counter(0);
  const auto t0 = Clock::now();
  add_under_lock(lock, counter, pairs);
  return {seconds_since(t0) / pairs, counter.load() == pairs};
}

peers::RoundTrips lock_contended(int pairs) {
  mp::Lock lock;
  mp::RawValue<long long> counter(0);
  mp::Process p(add_under_lock, lock, counter, pairs);
  const auto t0 = Clock::now();
  p.start();
  add_under_lock(lock, counter, pairs);
  p.join();
  return {seconds_since(t0) / (2.0 * pairs), counter.load() == 2LL * pairs};
}

peers::RoundTrips value_increment(int n) {
  mp::Value<long> v(0);
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    v.update([](long& x) { ++x; });
  }
  return {seconds_since(t0) / n, v.load() == n};
}

peers::RoundTrips shared_array_handoff(std::size_t bytes, int calls) {
  mp::RawArray<double> xs(bytes / sizeof(double));
  xs[xs.size() - 1] = 2.5;
  mp::Pool pool(1);
  const auto read_last = [](mp::RawArray<double> a) { return a[a.size() - 1]; };
  pool.apply(read_last, xs);  // the worker is up
  double got = 0;
  const auto t0 = Clock::now();
  for (int i = 0; i < calls; ++i) {
    got += pool.apply(read_last, xs);
  }
  const double t = seconds_since(t0);
  pool.close();
  pool.join();
  return {t / calls, got == 2.5 * calls};
}

}  // namespace mp_bench::ipc
