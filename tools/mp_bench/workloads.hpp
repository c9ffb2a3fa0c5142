// The seeds' workloads, compiled once in workloads.cpp so that every variant (sequential,
// threads, mp, OpenMP...) calls the same machine code, and their answers' checks.
#pragma once

#include <cstdint>
#include <string>

namespace mp_bench {

__extension__ typedef unsigned __int128 u128;
std::string to_string(u128 v);

// ---- seed 000: Monte Carlo pi ------------------------------------------------------------

inline constexpr std::uint64_t kPiSeed = 2024;
// Darts in the unit square that land in the quarter circle, out of n, drawn from stream
// `stream` of mp::Random(kPiSeed, stream): every task its own independent stream.
std::uint64_t estimate_circle(std::uint64_t n, std::uint64_t stream);
// Block b's share when `total` samples are split into `blocks` blocks.
inline std::uint64_t block_share(std::uint64_t total, std::uint64_t blocks, std::uint64_t b) {
  return total / blocks + (b < total % blocks ? 1 : 0);
}
struct PiCheck {
  double estimate = 0;
  double z = 0;  // (estimate - pi) / standard error
  bool ok = false;
};
// The estimate is within 6 standard errors of pi (a false alarm once in 5e8 runs).
PiCheck check_pi(std::uint64_t inside, std::uint64_t samples);

// ---- seed 000: primes by trial division ---------------------------------------------------

// The seed's check_prime(n): odd divisors up to sqrt(n). Cost grows with n and varies
// wildly between neighbours (even numbers: one test; primes: sqrt(n)/2 tests).
bool check_prime(std::uint32_t n);
// The number of primes in 1..limit, by a sieve: the answer the trial divisions must give.
std::uint64_t count_primes_sieve(std::uint32_t limit);

// ---- seeds 001 and 003: CPU-bound jobs ----------------------------------------------------

// Seed 001's task: the sum of i*i for i < count (exact: 128 bits).
u128 sum_of_squares(std::uint64_t count);
u128 expected_sum_of_squares(std::uint64_t count);
// Seed 003's heavy_work: the sum of i for i < count.
std::uint64_t heavy_work(std::uint64_t count);
std::uint64_t expected_heavy_work(std::uint64_t count);

// ---- overhead -----------------------------------------------------------------------------

// The trivial task whose round trip the overhead experiment measures.
int add_one(int x);

}  // namespace mp_bench
