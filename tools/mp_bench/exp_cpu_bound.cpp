// Seed 002: cpu_bound_func(num), the product of i*j*k over a cube of ranges (integers of
// about half a million digits at num 50), four calls: one after another, on an
// mp::ThreadPoolExecutor and on an mp::ProcessPoolExecutor, whose products come back
// across the process boundary as GMP integers (mp/gmp.hpp). The executors are created
// inside the timing, as in the seed. Every product is compared with the sequential one.
#include <fmt/core.h>
#include <mp/executor.hpp>
#include <mp/gmp.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "experiments.hpp"
#include "table.hpp"

namespace mp_bench {

namespace {

constexpr int kCalls = 4;

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

// The answer of a run: the size of all its products in decimal digits (GMP's count, exact
// or one more), or 0 if one differs from the sequential product.
using Answer = std::uint64_t;

Answer digits_if_same(const std::vector<mpz_class>& got, const std::vector<mpz_class>& want) {
  if (got != want) {
    return 0;
  }
  Answer digits = 0;
  for (const mpz_class& x : got) {
    digits += mpz_sizeinbase(x.get_mpz_t(), 10);
  }
  return digits;
}

template <class Executor>
std::vector<mpz_class> map_on(Executor& executor, const std::vector<int>& nums) {
  std::vector<mpz_class> out;
  for (const mpz_class& x : executor.map(cpu_bound_func, nums)) {
    out.push_back(x);
  }
  return out;
}

}  // namespace

void run_cpu_bound(Context& ctx) {
  const int num = ctx.quick() ? 36 : 50;
  const std::vector<int> nums(kCalls, num);
  const int workers = mp::cpu_count();
  std::vector<mpz_class> reference;
  for (int n : nums) {
    reference.push_back(cpu_bound_func(n));
  }
  const Answer expected = digits_if_same(reference, reference);

  using Run = std::function<Answer()>;
  std::vector<Variant<Answer>> variants;
  variants.push_back({"sequential", "sequential", [&](int) -> Run {
                        return [&] {
                          std::vector<mpz_class> out;
                          for (int n : nums) {
                            out.push_back(cpu_bound_func(n));
                          }
                          return digits_if_same(out, reference);
                        };
                      }});
  variants.push_back({"ThreadPoolExecutor.map", "thread", [&](int w) -> Run {
                        return [&, w] {
                          mp::ThreadPoolExecutor executor(w);
                          return digits_if_same(map_on(executor, nums), reference);
                        };
                      }});
  variants.push_back({"ProcessPoolExecutor.map", "process", [&](int w) -> Run {
                        return [&, w] {
                          mp::ProcessPoolExecutor executor(w);
                          return digits_if_same(map_on(executor, nums), reference);
                        };
                      }});

  ctx.progress().clear();
  fmt::print("\n== jobs: seed 002, cpu_bound_func with GMP integers ==\n");
  fmt::print(
      "{} calls of cpu_bound_func({}): the product of i*j*k for i, j, k < {}, {} digits each\n"
      "(seed 002: nums 50, 63, 32 in Python, 29-33 s). Executors are created inside the\n"
      "timing; the processes' products cross back as GMP integers. Median of {} runs.\n\n",
      kCalls, num, num, reference.front().get_str().size(), ctx.repeat());
  Table table({"variant", "workers", "median", "min", "max", "speedup", "digits"});
  double t_seq = 0;
  for (const auto& v : variants) {
    const int w = v.name == "sequential" ? 1 : workers;
    const auto t = measure(ctx, v, w, fmt::format("jobs: seed 002, {}, {} worker(s)", v.name, w));
    Record r;
    r.experiment = "jobs";
    r.variant = v.name;
    r.backend = v.backend;
    r.workers = w;
    r.params.str("workload", "cpu_bound_func")
        .str("seed", "002")
        .integer("jobs", kCalls)
        .integer("num", num);
    r.stats = t.stats;
    for (Answer a : t.answers) {
      r.ok = r.ok && a == expected;
    }
    r.answer = fmt::format("{}", t.answers.back());
    if (!r.ok) {
      ctx.fail(fmt::format("jobs seed 002 {}: products differ from the sequential ones", v.name));
    }
    if (v.name == "sequential") {
      t_seq = r.stats.median;
    }
    table.row({r.variant, fmt::format("{}", w), human_seconds(r.stats.median),
               human_seconds(r.stats.min), human_seconds(r.stats.max),
               fmt::format("{:.2f}x", t_seq / r.stats.median), r.ok ? r.answer : "WRONG"});
    ctx.add(std::move(r));
  }
  ctx.progress().clear();
  table.print();
}

}  // namespace mp_bench
