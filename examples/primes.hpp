// Seed 000's check_prime(n) by trial division, and a sieve to check the examples' counts.
#pragma once

#include <cstdint>
#include <vector>

namespace examples {

// The seed's check_prime(n).
inline bool check_prime(std::uint64_t n) {
  if (n < 2) {
    return false;
  }
  if (n % 2 == 0) {
    return n == 2;
  }
  for (std::uint64_t d = 3; d * d <= n; d += 2) {
    if (n % d == 0) {
      return false;
    }
  }
  return true;
}

inline std::uint64_t primes_by_sieve(std::uint64_t n) {
  std::vector<bool> composite(n + 1);
  std::uint64_t count = 0;
  for (std::uint64_t i = 2; i <= n; ++i) {
    if (!composite[i]) {
      ++count;
      for (std::uint64_t j = i * i; j <= n; j += i) {
        composite[j] = true;
      }
    }
  }
  return count;
}

}  // namespace examples
