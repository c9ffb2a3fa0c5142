// Seed 000: primes by trial division over 1..limit, an uneven load (an even number costs
// one test, a prime near n about sqrt(n)/2). Small chunks balance it, big chunks cut the
// traffic; the sweep over chunksize shows where mp's per-task cost stops mattering.
#include <fmt/core.h>
#include <mp/pool.hpp>
#include <mp/process.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "experiments.hpp"
#include "peers.hpp"
#include "pools.hpp"
#include "table.hpp"
#include "workloads.hpp"

namespace mp_bench {

namespace {

constexpr long long kSweep[] = {1, 10, 100, 1000};
constexpr std::uint32_t kThreadChunk = 100;  // numbers a thread takes at a time

std::uint64_t primes_sequential(std::uint32_t limit) {
  std::uint64_t count = 0;
  for (std::uint32_t n = 1; n <= limit; ++n) {
    count += check_prime(n) ? 1 : 0;
  }
  return count;
}

// std::thread workers taking kThreadChunk numbers at a time from a shared counter.
std::uint64_t primes_threads(std::uint32_t limit, int workers) {
  std::atomic<std::uint64_t> next{1};
  std::vector<std::uint64_t> counts(static_cast<std::size_t>(workers), 0);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < counts.size(); ++t) {
    threads.emplace_back([&, t] {
      std::uint64_t count = 0;
      for (;;) {
        const std::uint64_t first = next.fetch_add(kThreadChunk, std::memory_order_relaxed);
        if (first > limit) {
          break;
        }
        const std::uint64_t last = std::min<std::uint64_t>(first + kThreadChunk - 1, limit);
        for (std::uint64_t n = first; n <= last; ++n) {
          count += check_prime(static_cast<std::uint32_t>(n)) ? 1 : 0;
        }
      }
      counts[t] = count;
    });
  }
  std::uint64_t total = 0;
  for (std::size_t t = 0; t < counts.size(); ++t) {
    threads[t].join();
    total += counts[t];
  }
  return total;
}

// The seed's pool.map(check_prime, numbers, chunksize); chunksize 0: the pool's default.
std::uint64_t primes_pool(mp::Pool& pool, const std::vector<std::uint32_t>& numbers,
                          long long chunksize) {
  const std::vector<bool> flags =
      chunksize > 0 ? pool.map(check_prime, numbers, chunksize) : pool.map(check_prime, numbers);
  return static_cast<std::uint64_t>(std::count(flags.begin(), flags.end(), true));
}

// Python's rule, which mp::Pool follows: about four chunks per worker.
long long auto_chunksize(std::size_t n, int workers) {
  const std::size_t per = static_cast<std::size_t>(workers) * 4;
  return static_cast<long long>(std::max<std::size_t>(1, (n + per - 1) / per));
}

std::string sweep_name(long long c) { return fmt::format("pool.map.chunksize{}", c); }

std::vector<Variant<std::uint64_t>> primes_variants(std::uint32_t limit) {
  using Run = std::function<std::uint64_t()>;
  auto numbers = std::make_shared<std::vector<std::uint32_t>>();
  for (std::uint32_t n = 1; n <= limit; ++n) {
    numbers->push_back(n);
  }
  std::vector<Variant<std::uint64_t>> v;
  v.push_back({"sequential", "sequential",
               [limit](int) -> Run { return [limit] { return primes_sequential(limit); }; }});
  v.push_back({"threads", "thread",
               [limit](int w) -> Run { return [limit, w] { return primes_threads(limit, w); }; }});
  auto pool_variant = [&](std::string name, long long chunksize) {
    v.push_back({std::move(name), "process", [numbers, chunksize](int w) -> Run {
                   auto pool = start_pool(w);
                   return [pool, numbers, chunksize] {
                     return primes_pool(*pool, *numbers, chunksize);
                   };
                 }});
  };
  for (long long c : kSweep) {
    pool_variant(sweep_name(c), c);
  }
  pool_variant("pool.map.auto", 0);
  if (peers::have_openmp()) {
    v.push_back({"openmp.dynamic", "openmp",
                 [limit](int w) -> Run {
                   peers::openmp_warm(w);
                   return [limit, w] { return peers::openmp_primes(limit, w); };
                 },
                 true});
  }
  return v;
}

bool is_sweep(const std::string& name) { return name.rfind("pool.map.chunksize", 0) == 0; }

// The chunksize a variant runs with (0: none applies).
long long chunksize_of(const std::string& name, std::uint32_t limit, int workers) {
  if (name == "pool.map.auto") {
    return auto_chunksize(limit, workers);
  }
  if (is_sweep(name)) {
    return std::stoll(name.substr(std::string("pool.map.chunksize").size()));
  }
  if (name == "threads") {
    return kThreadChunk;
  }
  if (name == "openmp.dynamic") {
    return 1;  // schedule(dynamic)'s default
  }
  return 0;
}

Record record_primes(Context& ctx, const Variant<std::uint64_t>& v, int workers,
                     std::uint32_t limit, std::uint64_t expected) {
  const long long chunksize = chunksize_of(v.name, limit, workers);
  const auto t =
      measure(ctx, v, workers,
              fmt::format("primes: {}, {} worker(s), 1..{}", v.name, workers, short_count(limit)));
  Record r;
  r.experiment = "primes";
  r.variant = v.name;
  r.backend = v.backend;
  r.workers = workers;
  r.params.integer("limit", limit);
  if (chunksize > 0) {
    r.params.integer("chunksize", chunksize);
  }
  if (v.name == "pool.map.auto") {
    r.params.str("chunksize_rule", "auto");
  }
  r.stats = t.stats;
  for (std::uint64_t count : t.answers) {
    r.ok = r.ok && count == expected;
  }
  r.answer = json_uint(t.answers.back());
  if (!r.ok) {
    ctx.fail(fmt::format("primes {} with {} worker(s): counted {} primes in 1..{}, the sieve {}",
                         v.name, workers, t.answers.back(), limit, expected));
  }
  return ctx.add(std::move(r));
}

}  // namespace

Record primes_measure(Context& ctx, std::string_view variant, int workers, std::uint32_t limit) {
  const auto variants = primes_variants(limit);
  return record_primes(ctx, find_variant(variants, variant), workers, limit,
                       count_primes_sieve(limit));
}

void run_primes(Context& ctx) {
  const auto limit = static_cast<std::uint32_t>(ctx.size_or(ctx.options().limit, 3e6, 1e7));
  const int cpus = mp::cpu_count();
  const std::vector<int> workers = ctx.workers_or(one_to(cpus));
  const int main_w = main_workers(workers);
  const std::uint64_t expected = count_primes_sieve(limit);
  const auto variants = primes_variants(limit);

  ctx.progress().clear();
  fmt::print("\n== primes: check_prime(n) by trial division for n in 1..{} (seed 000) ==\n",
             short_count(limit));
  fmt::print(
      "Uneven cost per number. Chunksizes 1..1000 at {} workers; the pool is started before "
      "the\nclock. A sieve counts {} primes. Median of {} runs. {} CPUs.\n\n",
      main_w, expected, ctx.repeat(), cpus);

  const Record seq = record_primes(ctx, variants.front(), 1, limit, expected);
  std::map<std::pair<std::string, int>, Record> by;
  for (int w : workers) {
    for (std::size_t i = 1; i < variants.size(); ++i) {
      if (is_sweep(variants[i].name) && w != main_w) {
        continue;
      }
      by[{variants[i].name, w}] = record_primes(ctx, variants[i], w, limit, expected);
    }
  }

  ctx.progress().clear();
  const bool omp = peers::have_openmp();
  Table table({"variant", "workers", "chunksize", "median", "min", "max", "speedup",
               omp ? "/ OpenMP" : "", "primes"});
  auto add_row = [&](const Record& r) {
    const long long c = chunksize_of(r.variant, limit, r.workers);
    std::string vs_omp;
    if (omp && by.count({"openmp.dynamic", r.workers}) != 0) {
      vs_omp =
          fmt::format("{:.3f}", r.stats.median / by.at({"openmp.dynamic", r.workers}).stats.median);
    }
    table.row({r.variant, fmt::format("{}", r.workers), c > 0 ? fmt::format("{}", c) : "",
               human_seconds(r.stats.median), human_seconds(r.stats.min),
               human_seconds(r.stats.max),
               fmt::format("{:.2f}x", seq.stats.median / r.stats.median), vs_omp,
               r.ok ? r.answer : "WRONG " + r.answer});
  };
  add_row(seq);
  for (int w : workers) {
    table.separator();
    for (std::size_t i = 1; i < variants.size(); ++i) {
      if (by.count({variants[i].name, w}) != 0) {
        add_row(by.at({variants[i].name, w}));
      }
    }
  }
  table.print();

  // The targets (BENCHMARKS.md).
  std::string best;
  for (std::size_t i = 1; i < variants.size(); ++i) {
    const auto key = std::make_pair(variants[i].name, main_w);
    if (variants[i].backend == "process" && by.count(key) != 0 &&
        (best.empty() || by.at(key).stats.median < by.at({best, main_w}).stats.median)) {
      best = variants[i].name;
    }
  }
  if (!best.empty() && main_w > 1) {
    fmt::print("\n  {} workers: best pool chunking {} ({})", main_w, best,
               human_seconds(by.at({best, main_w}).stats.median));
    if (by.count({"openmp.dynamic", main_w}) != 0) {
      fmt::print(
          ", time / OpenMP dynamic {:.3f} (target <= 1.05)",
          by.at({best, main_w}).stats.median / by.at({"openmp.dynamic", main_w}).stats.median);
    }
    if (by.count({sweep_name(1), main_w}) != 0) {
      fmt::print("; chunksize 1 speedup {:.2f}x (target >= 1.5)",
                 seq.stats.median / by.at({sweep_name(1), main_w}).stats.median);
    }
    fmt::print("\n");
  }

  if (ctx.plotter().enabled()) {
    std::string csv = "chunksize,pool.map\n";
    for (long long c : kSweep) {
      csv += fmt::format("{},{}\n", c, by.at({sweep_name(c), main_w}).stats.median);
    }
    std::string lines = fmt::format(
        "{} with lines dt 2 lw 2 lc rgb 'gray40' title 'sequential (1 process)'", seq.stats.median);
    if (by.count({"threads", main_w}) != 0) {
      lines += fmt::format(", {} with lines dt 4 lw 2 lc rgb 'dark-green' title 'threads'",
                           by.at({"threads", main_w}).stats.median);
    }
    if (by.count({"openmp.dynamic", main_w}) != 0) {
      lines +=
          fmt::format(", {} with lines dt 1 lw 2 lc rgb 'orange' title 'OpenMP schedule(dynamic)'",
                      by.at({"openmp.dynamic", main_w}).stats.median);
    }
    const std::string script = fmt::format(
        "set termoption noenhanced\n"
        "$auto << EOD\nchunksize,time\n{},{}\nEOD\n"
        "set title 'primes 1..{} by trial division: mp::Pool.map, {} workers, vs chunksize "
        "(median of {})'\n"
        "set logscale x\n"
        "set xrange [0.5:{}]\n"
        "set yrange [0:*]\n"
        "set xlabel 'chunksize (numbers per task)'\n"
        "set ylabel 'time (s)'\n"
        "set key top left\n"
        "plot csv using 1:2 with linespoints lw 2 pt 7 lc rgb 'blue' title 'pool.map', "
        "$auto using 1:2 with points pt 5 ps 2 lc rgb 'red' title 'pool.map, auto chunksize', "
        "{}\n",
        auto_chunksize(limit, main_w), by.at({"pool.map.auto", main_w}).stats.median,
        short_count(limit), main_w, ctx.repeat(), 2 * auto_chunksize(limit, main_w), lines);
    ctx.plotter().plot("primes", csv, script);
  }
}

}  // namespace mp_bench
