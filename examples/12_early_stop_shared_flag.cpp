// Stopping every worker as soon as one finds the answer, through a flag in shared memory
// (High Performance Python, the book behind seed 000: "found a factor" shared between
// processes). Workers split the odd divisors of a large composite into ranges; the one
// that finds a factor raises the flag, and the others, checking it every few thousand
// divisors, stop. Three flags compared:
//
//   mp::Value<bool>                    Python's Value('b', lock=True): a lock per check
//   mp::Event                          Python's Event
//   mp::RawValue<std::atomic<bool>>    a lock-free atomic in shared memory (no Python peer)
//
// The default n = 300000007 * 3000000019: its smallest factor lies a third of the way to
// its square root, so the first worker finds it while the others still have work left.
// Usage: 12_early_stop_shared_flag [n = 900000026700000133]
#include <mp/mp.hpp>  // Process, Value, Event, RawValue

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

constexpr std::uint64_t kCheckEvery = 4096;

struct ValueFlag {
  mp::Value<bool> v{false};
  bool is_set() { return v.load(); }
  void set() { v.store(true); }
};
struct EventFlag {
  mp::Event e;
  bool is_set() { return e.is_set(); }
  void set() { e.set(); }
};
struct AtomicFlag {
  mp::RawValue<std::atomic<bool>> a;
  bool is_set() { return a.get().load(std::memory_order_relaxed); }
  void set() { a.get().store(true); }
};

struct Outcome {
  mp::RawValue<std::uint64_t> factor;
  mp::RawValue<std::atomic<std::uint64_t>> tried;
};

// Tries the odd divisors in [first, last], looking at the flag every kCheckEvery.
template <class Flag>
void search(std::uint64_t n, std::uint64_t first, std::uint64_t last, Flag flag, Outcome out) {
  std::uint64_t tried = 0;
  for (std::uint64_t d = first | 1; d <= last; d += 2) {
    if (++tried % kCheckEvery == 0 && flag.is_set()) {
      break;
    }
    if (n % d == 0) {
      out.factor.store(d);
      flag.set();
      break;
    }
  }
  out.tried.get().fetch_add(tried);
}

template <class Flag>
void run(const char* name, std::uint64_t n, int workers) {
  const auto limit = static_cast<std::uint64_t>(std::sqrt(static_cast<long double>(n))) + 1;
  Flag flag;
  Outcome out;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<mp::Process> ps;
  const std::uint64_t span = (limit - 3) / static_cast<std::uint64_t>(workers) + 1;
  for (int w = 0; w < workers; ++w) {
    const std::uint64_t first = 3 + span * static_cast<std::uint64_t>(w);
    ps.emplace_back(search<Flag>, n, first, std::min(limit, first + span - 1), flag, out);
    ps.back().start();
  }
  for (auto& p : ps) {
    p.join();
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%-34s factor %llu  in %7.3f s  divisors tried %llu\n", name,
              static_cast<unsigned long long>(out.factor.load()), s,
              static_cast<unsigned long long>(out.tried.get().load()));
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);
  const std::uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 900000026700000133ULL;
  const int workers = std::max(2, mp::cpu_count());
  std::printf("smallest factor of %llu by %d processes, stopping early through a shared flag\n",
              static_cast<unsigned long long>(n), workers);
  run<ValueFlag>("mp::Value<bool> (lock per check)", n, workers);
  run<EventFlag>("mp::Event", n, workers);
  run<AtomicFlag>("mp::RawValue<std::atomic<bool>>", n, workers);
  return 0;
}
