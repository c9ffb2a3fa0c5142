// joblib's Parallel / delayed, from seeds 000 and 001: Monte Carlo pi on processes and on
// threads, and the four task(idx, count) jobs with Parallel(n_jobs=4).
//
// Python:  Parallel(n_jobs=4)(delayed(task)(i, count) for i in range(4))
// C++:     mp::Parallel(4)(mp::delayed(task).over(jobs));   // jobs: (i, count) pairs
//
// The jobs show their progress as joblib's verbose=1 does (.verbose = 1).
//
// Usage: 10_parallel_delayed [samples = 1e8] [count = 10000000]
#include <mp/mp.hpp>  // Parallel, delayed, Backend, Random

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <utility>
#include <vector>

namespace {

// The seed's estimate_circle(n), on task `stream`'s own random stream.
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

// Seed 001's task(idx, count): sum of i*i for i < count (modulo 2^64).
std::uint64_t task(int idx, std::uint64_t count) {
  (void)idx;  // the seed prints it; the sum does not depend on it
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    sum += i * i;
  }
  return sum;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);
  const auto samples = static_cast<std::uint64_t>(argc > 1 ? std::atof(argv[1]) : 1e8);
  const auto count = static_cast<std::uint64_t>(argc > 2 ? std::atof(argv[2]) : 1e7);
  constexpr std::uint64_t kBlocks = 8;
  const std::uint64_t share = samples / kBlocks;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> blocks;  // (samples, stream)
  for (std::uint64_t stream = 0; stream < kBlocks; ++stream) {
    blocks.emplace_back(share, stream);
  }
  const auto darts = mp::delayed(estimate_circle).over(blocks);
  double first = 0;
  for (mp::Backend backend : {mp::Backend::processes, mp::Backend::threads}) {
    const auto start = std::chrono::steady_clock::now();
    mp::Parallel parallel({.n_jobs = -1, .backend = backend});
    const auto inside = parallel(darts);
    const double pi =
        4.0 * static_cast<double>(std::accumulate(inside.begin(), inside.end(), std::uint64_t{0})) /
        static_cast<double>(share * kBlocks);
    std::printf("pi, %-9s n_jobs=%d: %.6f in %.3f s\n",
                backend == mp::Backend::processes ? "processes" : "threads", parallel.n_jobs(), pi,
                seconds_since(start));
    if (first != 0 && pi != first) {
      std::printf("the backends disagree\n");
      return 1;
    }
    first = pi;
  }
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::pair<int, std::uint64_t>> jobs;
  for (int i = 0; i < 4; ++i) {
    jobs.emplace_back(i, count);
  }
  // verbose as joblib's: the progress on stderr, a bar on a terminal, a line in a log.
  const auto sums = mp::Parallel({.n_jobs = 4, .verbose = 1})(mp::delayed(task).over(jobs));
  std::printf("4 jobs with Parallel(n_jobs=4): %.3f s\n", seconds_since(start));
  for (int i = 0; i < 4; ++i) {
    std::printf("job %d: %llu\n", i,
                static_cast<unsigned long long>(sums[static_cast<std::size_t>(i)]));
  }
  return sums[0] == task(0, count) && sums[3] == sums[0] ? 0 : 1;
}
