// The experiments: each measures its variants, prints its table, stores its records for
// --json and draws its plot for --plot.
#pragma once

#include <cstdint>
#include <string_view>

#include "bench.hpp"

namespace mp_bench {

void run_pi(Context& ctx);        // seed 000: Monte Carlo pi, time vs workers
void run_primes(Context& ctx);    // seed 000: trial division, time vs chunksize
void run_jobs(Context& ctx);      // seeds 001/003: four CPU-bound jobs (and 002 with GMP)
void run_overhead(Context& ctx);  // per-task costs beside C++ peers
void run_python(Context& ctx);    // the seeds' Python programs beside mp, same sizes
// seed 002: cpu_bound_func's GMP products (exp_cpu_bound.cpp, built when gmpxx is found)
void run_cpu_bound(Context& ctx);

// Single measurements `python` reuses at Python's sizes; each is recorded in ctx.
Record pi_measure(Context& ctx, std::string_view variant, int workers, std::uint64_t samples);
// variant: sequential, pool.map.chunksizeN (N in 1, 10, 100, 1000), pool.map.auto, ...
Record primes_measure(Context& ctx, std::string_view variant, int workers, std::uint32_t limit);
// workload: sum_of_squares or heavy_work; variant: sequential, threads, process, pool.map.
Record jobs_measure(Context& ctx, std::string_view workload, std::string_view variant, int workers,
                    std::uint64_t count);
// variant: pool.apply (items round trips), pool.map.chunksize1, pool.map.auto (items).
Record overhead_measure(Context& ctx, std::string_view variant, int workers, int items);

}  // namespace mp_bench
