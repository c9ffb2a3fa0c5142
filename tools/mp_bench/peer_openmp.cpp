// OpenMP peers. Without OpenMP (the build did not find it) these run sequentially and
// have_openmp() says so; the experiments then leave the OpenMP variants out.
#include <cstddef>
#include <cstdint>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "peers.hpp"
#include "workloads.hpp"

namespace mp_bench::peers {

bool have_openmp() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

void openmp_release_threads() {
  // libgomp (g++) ends its threads here. LLVM's libomp 14 (clang++) leaves its runtime in
  // a state that fails an assertion in the next forked child, so its threads stay: pools
  // created after an OpenMP peer then start their workers from the fork server.
#if defined(_OPENMP) && !defined(__clang__)
  omp_pause_resource_all(omp_pause_hard);
#endif
}

void openmp_warm(int workers) {
  long long sum = 0;
#pragma omp parallel for num_threads(workers) schedule(static, 1) reduction(+ : sum)
  for (int i = 0; i < workers; ++i) {
    sum += add_one(i);
  }
  (void)sum;
}

std::uint64_t openmp_pi(std::uint64_t samples, int workers) {
  const auto blocks = static_cast<std::uint64_t>(workers);
  const long long n = workers;
  std::uint64_t inside = 0;
#pragma omp parallel for num_threads(workers) schedule(static, 1) reduction(+ : inside)
  for (long long b = 0; b < n; ++b) {
    const auto block = static_cast<std::uint64_t>(b);
    inside += estimate_circle(block_share(samples, blocks, block), block);
  }
  return inside;
}

std::uint64_t openmp_primes(std::uint32_t limit, int workers) {
  const long long n = limit;
  std::uint64_t count = 0;
#pragma omp parallel for num_threads(workers) schedule(dynamic) reduction(+ : count)
  for (long long i = 1; i <= n; ++i) {
    count += check_prime(static_cast<std::uint32_t>(i)) ? 1 : 0;
  }
  return count;
}

long long openmp_trivial(int n, int workers) {
  long long sum = 0;
#pragma omp parallel for num_threads(workers) schedule(dynamic, 1) reduction(+ : sum)
  for (int i = 0; i < n; ++i) {
    sum += add_one(i);
  }
  return sum;
}

std::vector<int> openmp_map_static(const std::vector<int>& items, int workers) {
  std::vector<int> out(items.size());
  const auto n = static_cast<std::ptrdiff_t>(items.size());
#pragma omp parallel for num_threads(workers) schedule(static)
  for (std::ptrdiff_t i = 0; i < n; ++i) {
    out[static_cast<std::size_t>(i)] = add_one(items[static_cast<std::size_t>(i)]);
  }
  return out;
}

}  // namespace mp_bench::peers
