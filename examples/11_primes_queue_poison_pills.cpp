// Seed 000's prime search with Process workers fed from a task queue, answering on a
// result queue, each stopped by one poison pill.
//
// Python:  tasks.put(n) ...; for _ in workers: tasks.put(None)    # one pill per worker
//          def worker(tasks, results):
//              while (n := tasks.get()) is not None: results.put((n, check_prime(n)))
// C++:     the same, with 0 as the pill (0 is never a candidate).
//
// The count is checked against a sieve. Usage: 11_primes_queue_poison_pills [n = 200000]
#include <mp/mp.hpp>  // Process, Queue

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

#include "primes.hpp"  // check_prime, primes_by_sieve

namespace {

using examples::check_prime;
using examples::primes_by_sieve;

constexpr std::uint64_t kPoisonPill = 0;

void worker(mp::Queue<std::uint64_t> tasks, mp::Queue<std::pair<std::uint64_t, bool>> results) {
  for (std::uint64_t n = tasks.get(); n != kPoisonPill; n = tasks.get()) {
    results.put({n, check_prime(n)});
  }
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);
  const std::uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200'000;
  const int workers = mp::cpu_count();
  mp::Queue<std::uint64_t> tasks;
  mp::Queue<std::pair<std::uint64_t, bool>> results;

  const auto t0 = std::chrono::steady_clock::now();
  std::vector<mp::Process> processes;
  for (int i = 0; i < workers; ++i) {
    processes.emplace_back(worker, tasks, results);
    processes.back().start();
  }
  for (std::uint64_t i = 1; i <= n; ++i) {
    tasks.put(i);
  }
  for (int i = 0; i < workers; ++i) {
    tasks.put(kPoisonPill);
  }
  std::uint64_t primes = 0;
  for (std::uint64_t i = 1; i <= n; ++i) {
    primes += results.get().second ? 1 : 0;
  }
  for (auto& p : processes) {
    p.join();
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const std::uint64_t want = primes_by_sieve(n);
  std::printf(
      "primes up to %llu: %llu found by %d workers through queues in %.3f s (sieve: %llu)\n",
      static_cast<unsigned long long>(n), static_cast<unsigned long long>(primes), workers, seconds,
      static_cast<unsigned long long>(want));
  return primes == want ? 0 : 1;
}
