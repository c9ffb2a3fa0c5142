// GMP integers (mp/gmp.hpp) as task arguments and results: seed 002's million-digit
// products cross the process boundary exactly, and garbled bytes are refused.
#include <gtest/gtest.h>

#include <mp/gmp.hpp>
#include <mp/mp.hpp>
#include <string>
#include <vector>

#include "helpers/hygiene.hpp"

namespace {

using GmpTest = mp::test::HygieneTest;

// Seed 002's cpu_bound_func: the product of i*j*k for i, j, k in 1..num-1.
mpz_class cpu_bound_func(int num) {
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

// The same number in closed form: ((num-1)!)^(3 (num-1)^2).
mpz_class closed_form(int num) {
  mpz_class f;
  mpz_fac_ui(f.get_mpz_t(), static_cast<unsigned long>(num - 1));
  mpz_class p;
  mpz_pow_ui(p.get_mpz_t(), f.get_mpz_t(), 3UL * static_cast<unsigned long>((num - 1) * (num - 1)));
  return p;
}

mpz_class negate(const mpz_class& x) { return -x; }

TEST_F(GmpTest, IntegersOfEverySignAndSizeRoundTripThroughWorkers) {
  mp::Pool pool(2);
  std::vector<mpz_class> xs{0, 1, -1, mpz_class("18446744073709551616"),  // 2^64: two words
                            mpz_class("-340282366920938463463374607431768211455")};
  mpz_class big;
  mpz_ui_pow_ui(big.get_mpz_t(), 7, 1'000'000);  // 845 099 digits
  xs.push_back(big);
  const std::vector<mpz_class> back = pool.map(negate, xs, 1);
  ASSERT_EQ(back.size(), xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) {
    EXPECT_EQ(back[i], -xs[i]) << "item " << i;
  }
}

TEST_F(GmpTest, SeedTwoProductsAreIdenticalFromThreadsAndProcesses) {
  const std::vector<int> nums{20, 25, 12, 17};
  std::vector<mpz_class> sequential;
  for (int n : nums) sequential.push_back(cpu_bound_func(n));
  for (std::size_t i = 0; i < nums.size(); ++i) {
    EXPECT_EQ(sequential[i], closed_form(nums[i])) << "num " << nums[i];
  }
  mp::ThreadPoolExecutor threads(2);
  std::vector<mpz_class> from_threads;
  for (const mpz_class& x : threads.map(cpu_bound_func, nums)) from_threads.push_back(x);
  EXPECT_EQ(from_threads, sequential);
  mp::ProcessPoolExecutor processes(2);
  std::vector<mpz_class> from_processes;
  for (const mpz_class& x : processes.map(cpu_bound_func, nums)) from_processes.push_back(x);
  EXPECT_EQ(from_processes, sequential);
  EXPECT_EQ(sequential[1].get_str().size(), 41'114u);  // 24!^1728, as Python prints it
}

// What a garbled message could hold: each form is refused, none becomes a number.
TEST_F(GmpTest, BytesThatAreNotAnIntegerAreRefused) {
  auto bytes_of = [](std::int8_t sign, const std::vector<std::uint64_t>& words) {
    mp::detail::VectorWriter w;
    mp::detail::encode(w, std::make_tuple(sign, words));
    return std::string(reinterpret_cast<const char*>(w.data()), w.size());
  };
  auto decodes = [](const std::string& b) {
    mp::detail::Reader r(reinterpret_cast<const std::byte*>(b.data()), b.size());
    mpz_class x;
    mp::detail::decode(r, x);
    return x;
  };
  EXPECT_EQ(decodes(bytes_of(-1, {5})), -5);
  EXPECT_THROW(decodes(bytes_of(2, {5})), mp::SerializationError);     // no such sign
  EXPECT_THROW(decodes(bytes_of(0, {5})), mp::SerializationError);     // zero with words
  EXPECT_THROW(decodes(bytes_of(1, {})), mp::SerializationError);      // one without
  EXPECT_THROW(decodes(bytes_of(1, {5, 0})), mp::SerializationError);  // a leading zero word
}

}  // namespace
