// Seed 000's Monte Carlo pi on processes and on threads: the same code, one word apart.
//
// Python:  from multiprocessing.pool import ThreadPool    # instead of Pool
// C++:     mp::ThreadPool pool(n);                        // instead of mp::Pool pool(n);
//
// In Python the GIL keeps the threads from running the darts at once; in C++ both pools
// use every core. Both answers come from the same random streams, so they are equal.
// Usage: 06_pi_threads_vs_processes [samples = 1e8] [workers = cpu count]
#include <mp/mp.hpp>  // Pool, ThreadPool, Random

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <vector>

namespace {

// The seed's estimate_circle(n), with task `stream`'s own random stream.
std::uint64_t estimate_circle(std::uint64_t n, std::uint64_t stream) {
  mp::Random rng(2024, stream);
  std::uint64_t inside = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    const double x = rng.uniform();
    const double y = rng.uniform();
    inside += (x * x + y * y < 1.0) ? 1 : 0;
  }
  return inside;
}

// The seed's program, for either kind of pool: one task per worker.
template <class AnyPool>
double pi_on(AnyPool& pool, std::uint64_t samples, int workers) {
  std::vector<std::uint64_t> streams(static_cast<std::size_t>(workers));
  std::iota(streams.begin(), streams.end(), 0);
  const std::uint64_t share = samples / static_cast<std::uint64_t>(workers);
  const auto inside =
      pool.map([share](std::uint64_t s) { return estimate_circle(share, s); }, streams, 1);
  const std::uint64_t total = std::accumulate(inside.begin(), inside.end(), std::uint64_t{0});
  return 4.0 * static_cast<double>(total) / static_cast<double>(share * streams.size());
}

template <class AnyPool>
double timed(const char* name, std::uint64_t samples, int workers) {
  const auto start = std::chrono::steady_clock::now();
  AnyPool pool(workers);
  const double pi = pi_on(pool, samples, workers);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%-12s %d workers: pi = %.6f in %.3f s\n", name, workers, pi, s);
  return pi;
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);
  const auto samples = static_cast<std::uint64_t>(argc > 1 ? std::atof(argv[1]) : 1e8);
  const int workers = argc > 2 ? std::atoi(argv[2]) : mp::cpu_count();
  const double by_processes = timed<mp::Pool>("processes", samples, workers);
  const double by_threads = timed<mp::ThreadPool>("threads", samples, workers);
  if (by_processes != by_threads) {
    std::printf("the two pools disagree\n");
    return 1;
  }
  return 0;
}
