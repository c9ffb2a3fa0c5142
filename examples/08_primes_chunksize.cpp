// Seed 000's primes by trial division over a pool, against chunksize.
//
// Python:  for is_prime in pool.imap_unordered(check_prime, numbers, chunksize=c): ...
// C++:     for (bool is_prime : pool.imap_unordered(check_prime, numbers, c)) ...
//
// The cost per number is uneven (a prime is tried against every odd divisor up to its
// square root): large chunks cut the messages, small ones balance the load. The count is
// checked against a sieve. Usage: 08_primes_chunksize [n = 1000000]
#include <mp/mp.hpp>  // Pool, imap_unordered

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <vector>

#include "primes.hpp"  // check_prime, primes_by_sieve

using examples::check_prime;
using examples::primes_by_sieve;

int main(int argc, char** argv) {
  mp::init(argc, argv);
  const std::uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1'000'000;
  std::vector<std::uint64_t> numbers(n);
  std::iota(numbers.begin(), numbers.end(), 1);
  const std::uint64_t want = primes_by_sieve(n);
  mp::Pool pool;
  std::printf("primes up to %llu on %d workers: %llu\n", static_cast<unsigned long long>(n),
              pool.processes(), static_cast<unsigned long long>(want));
  for (long long chunksize : {1LL, 10LL, 100LL, 1000LL, 10000LL}) {
    const auto start = std::chrono::steady_clock::now();
    std::uint64_t found = 0;
    for (bool is_prime : pool.imap_unordered(check_prime, numbers, chunksize)) {
      found += is_prime ? 1 : 0;
    }
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("chunksize %6lld: %.3f s, %llu primes%s\n", chunksize, s,
                static_cast<unsigned long long>(found), found == want ? "" : " WRONG");
    if (found != want) {
      return 1;
    }
  }
  return 0;
}
