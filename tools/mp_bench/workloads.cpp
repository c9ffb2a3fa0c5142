#include "workloads.hpp"

#include <mp/random.hpp>

#include <cmath>
#include <numbers>
#include <vector>

namespace mp_bench {

namespace {
// Hides a value from the optimizer, so that the loops below run as written instead of
// being replaced by their closed forms (which clang finds).
inline void opaque(std::uint64_t& x) { asm volatile("" : "+r"(x)); }
}  // namespace

std::string to_string(u128 v) {
  std::string s;
  do {
    s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  } while (v != 0);
  return s;
}

std::uint64_t estimate_circle(std::uint64_t n, std::uint64_t stream) {
  mp::Random rng(kPiSeed, stream);
  std::uint64_t inside = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    const double x = rng.uniform();
    const double y = rng.uniform();
    inside += (x * x + y * y < 1.0) ? 1 : 0;
  }
  return inside;
}

PiCheck check_pi(std::uint64_t inside, std::uint64_t samples) {
  constexpr double kQuarter = std::numbers::pi / 4;
  const double n = static_cast<double>(samples);
  const double se = 4 * std::sqrt(kQuarter * (1 - kQuarter) / n);
  PiCheck c;
  c.estimate = 4.0 * static_cast<double>(inside) / n;
  c.z = (c.estimate - std::numbers::pi) / se;
  c.ok = std::abs(c.z) <= 6;
  return c;
}

bool check_prime(std::uint32_t n) {
  if (n < 2) {
    return false;
  }
  if (n % 2 == 0) {
    return n == 2;
  }
  for (std::uint32_t i = 3; i * i <= n; i += 2) {
    if (n % i == 0) {
      return false;
    }
  }
  return true;
}

std::uint64_t count_primes_sieve(std::uint32_t limit) {
  if (limit < 2) {
    return 0;
  }
  std::vector<bool> composite(static_cast<std::size_t>(limit) + 1, false);
  std::uint64_t count = 0;
  for (std::uint64_t i = 2; i <= limit; ++i) {
    if (!composite[i]) {
      ++count;
      for (std::uint64_t j = i * i; j <= limit; j += i) {
        composite[j] = true;
      }
    }
  }
  return count;
}

u128 sum_of_squares(std::uint64_t count) {
  u128 sum = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint64_t square = i * i;  // exact for i < 2^32
    opaque(square);
    sum += square;
  }
  return sum;
}

u128 expected_sum_of_squares(std::uint64_t n) {
  if (n == 0) {
    return 0;
  }
  return static_cast<u128>(n - 1) * n * (2 * static_cast<u128>(n) - 1) / 6;
}

std::uint64_t heavy_work(std::uint64_t count) {
  std::uint64_t result = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint64_t term = i;
    opaque(term);
    result += term;
  }
  return result;
}

std::uint64_t expected_heavy_work(std::uint64_t n) { return n == 0 ? 0 : n * (n - 1) / 2; }

int add_one(int x) { return x + 1; }

}  // namespace mp_bench
