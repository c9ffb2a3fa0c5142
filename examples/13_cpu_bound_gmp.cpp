// Seed 002: cpu_bound_func(num), the product of i*j*k over a cube of ranges, for nums
// [50, 63, 32]: integers of about a million digits. The seed's three programs: one call
// after another, a ThreadPoolExecutor and a ProcessPoolExecutor, each with map.
//
// Python:  with ProcessPoolExecutor(max_workers=10) as executor:
//              results = list(executor.map(cpu_bound_func, nums))
// C++:     mp::ProcessPoolExecutor executor(10);
//          for (const mpz_class& r : executor.map(cpu_bound_func, nums)) ...
//
// The products are GMP integers (mpz_class); mp/gmp.hpp lets them cross the process
// boundary as results. The three programs must give identical numbers; the example
// prints their digit counts and times. In C++ threads run such work in parallel too
// (there is no GIL); the call for 63 is most of the work, so no program can take much
// less than it alone. Usage: 13_cpu_bound_gmp [num ...] (default 50 63 32)
#include <pthread.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mp/gmp.hpp>
#include <mp/mp.hpp>  // ThreadPoolExecutor, ProcessPoolExecutor
#include <string>
#include <vector>

namespace {

mpz_class cpu_bound_func(int num) {
  std::printf("%d process | %lu thread\n", static_cast<int>(::getpid()),
              static_cast<unsigned long>(::pthread_self()));
  std::fflush(stdout);
  mpz_class total = 1;
  for (int i = 1; i < num; ++i) {
    for (int j = 1; j < num; ++j) {
      for (int k = 1; k < num; ++k) {
        total *= i * j * k;
      }
    }
  }
  return total;
}

// executor.map's results, in input order.
template <class Executor>
std::vector<mpz_class> map_on(Executor& executor, const std::vector<int>& nums) {
  std::vector<mpz_class> out;
  for (const mpz_class& x : executor.map(cpu_bound_func, nums)) {
    out.push_back(x);
  }
  return out;
}

template <class Run>
std::vector<mpz_class> timed(const char* title, Run run) {
  std::printf("-- %s\n", title);
  const auto start = std::chrono::steady_clock::now();
  std::vector<mpz_class> results = run();
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  std::printf("%s: %.2f s\n", title, took.count());
  return results;
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);
  std::vector<int> nums;
  for (int i = 1; i < argc; ++i) {
    nums.push_back(std::atoi(argv[i]));
  }
  if (nums.empty()) {
    nums = {50, 63, 32};
  }
  for (int n : nums) {
    if (n < 1 || n > 200) {
      std::fprintf(stderr, "num must be in 1..200, not %d\n", n);
      return 2;
    }
  }

  const auto sequential = timed("sequential", [&] {
    std::vector<mpz_class> r;
    for (int n : nums) {
      r.push_back(cpu_bound_func(n));
    }
    return r;
  });
  const auto threads = timed("ThreadPoolExecutor(10)", [&] {
    mp::ThreadPoolExecutor executor(10);
    return map_on(executor, nums);
  });
  const auto processes = timed("ProcessPoolExecutor(10)", [&] {
    mp::ProcessPoolExecutor executor(10);
    return map_on(executor, nums);
  });

  const bool same = threads == sequential && processes == sequential;
  for (std::size_t i = 0; i < nums.size(); ++i) {
    std::printf("cpu_bound_func(%d): %zu digits\n", nums[i], sequential[i].get_str().size());
  }
  std::printf("%s\n", same ? "threads and processes computed the same numbers"
                           : "MISMATCH: the programs computed different numbers");
  return same ? 0 : 1;
}
