// Seed 000: Monte Carlo pi. The samples are split into one block per worker, each block
// drawn from its own mp::Random stream; every parallel variant runs the same blocks, so
// for a given worker count they all give the same count of darts inside.
#include <fmt/core.h>
#include <mp/pool.hpp>
#include <mp/process.hpp>

#include <cstdint>
#include <map>
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

std::uint64_t pi_threads(std::uint64_t samples, int workers) {
  const auto blocks = static_cast<std::uint64_t>(workers);
  std::vector<std::uint64_t> inside(blocks, 0);
  std::vector<std::thread> threads;
  for (std::uint64_t b = 0; b < blocks; ++b) {
    threads.emplace_back([&inside, samples, blocks, b] {
      inside[b] = estimate_circle(block_share(samples, blocks, b), b);
    });
  }
  std::uint64_t total = 0;
  for (std::uint64_t b = 0; b < blocks; ++b) {
    threads[b].join();
    total += inside[b];
  }
  return total;
}

// The seed's pool.map(estimate_circle, [n / p] * p), with each task's stream its index.
std::uint64_t pi_pool(mp::Pool& pool, std::uint64_t samples, int workers) {
  const auto blocks = static_cast<std::uint64_t>(workers);
  std::vector<std::uint64_t> streams;
  for (std::uint64_t b = 0; b < blocks; ++b) {
    streams.push_back(b);
  }
  const std::vector<std::uint64_t> counts =
      pool.map([samples, blocks](
                   std::uint64_t b) { return estimate_circle(block_share(samples, blocks, b), b); },
               streams, 1);
  std::uint64_t total = 0;
  for (std::uint64_t c : counts) {
    total += c;
  }
  return total;
}

std::vector<Variant<std::uint64_t>> pi_variants(std::uint64_t samples) {
  using Run = std::function<std::uint64_t()>;
  std::vector<Variant<std::uint64_t>> v;
  v.push_back({"sequential", "sequential", [samples](int) -> Run {
                 return [samples] { return estimate_circle(samples, 0); };
               }});
  v.push_back({"threads", "thread", [samples](int w) -> Run {
                 return [samples, w] { return pi_threads(samples, w); };
               }});
  v.push_back({"pool.map", "process", [samples](int w) -> Run {
                 auto pool = start_pool(w);
                 return [pool, samples, w] { return pi_pool(*pool, samples, w); };
               }});
  if (peers::have_openmp()) {
    v.push_back({"openmp", "openmp",
                 [samples](int w) -> Run {
                   peers::openmp_warm(w);
                   return [samples, w] { return peers::openmp_pi(samples, w); };
                 },
                 true});
  }
  return v;
}

Record record_pi(Context& ctx, const Variant<std::uint64_t>& v, int workers,
                 std::uint64_t samples) {
  const auto t = measure(ctx, v, workers,
                         fmt::format("pi: {}, {} worker(s), {} samples", v.name, workers,
                                     short_count(static_cast<double>(samples))));
  Record r;
  r.experiment = "pi";
  r.variant = v.name;
  r.backend = v.backend;
  r.workers = workers;
  r.params.integer("samples", static_cast<long long>(samples))
      .integer("blocks", v.backend == "sequential" ? 1 : workers);
  r.stats = t.stats;
  PiCheck last;
  for (std::uint64_t inside : t.answers) {
    last = check_pi(inside, samples);
    r.ok = r.ok && last.ok;
  }
  r.answer = json_number(last.estimate);
  if (!r.ok) {
    ctx.fail(fmt::format("pi {} with {} worker(s): estimate {} is {:.1f} standard errors off",
                         v.name, workers, last.estimate, last.z));
  }
  return ctx.add(std::move(r));
}

}  // namespace

Record pi_measure(Context& ctx, std::string_view variant, int workers, std::uint64_t samples) {
  const auto variants = pi_variants(samples);
  return record_pi(ctx, find_variant(variants, variant), workers, samples);
}

void run_pi(Context& ctx) {
  const auto samples = static_cast<std::uint64_t>(ctx.size_or(ctx.options().samples, 1e8, 1e9));
  const int cpus = mp::cpu_count();
  const std::vector<int> workers = ctx.workers_or(one_to(2 * cpus));
  const auto variants = pi_variants(samples);

  ctx.progress().clear();
  fmt::print("\n== pi: Monte Carlo, {} samples in one block per worker (seed 000) ==\n",
             short_count(static_cast<double>(samples)));
  fmt::print(
      "One mp::Random stream per block; the pool is started before the clock (its start-up "
      "is\noverhead's pool.startup). Median of {} runs. {} CPUs.\n\n",
      ctx.repeat(), cpus);

  const Record seq = record_pi(ctx, variants.front(), 1, samples);
  std::map<std::pair<std::string, int>, Record> by;  // (variant, workers)
  for (int w : workers) {
    for (std::size_t i = 1; i < variants.size(); ++i) {
      by[{variants[i].name, w}] = record_pi(ctx, variants[i], w, samples);
    }
  }

  ctx.progress().clear();
  Table table(
      {"variant", "workers", "median", "min", "max", "speedup", "efficiency", "pi", "check"});
  auto add_row = [&](const Record& r) {
    const double speedup = seq.stats.median / r.stats.median;
    table.row({r.variant, fmt::format("{}", r.workers), human_seconds(r.stats.median),
               human_seconds(r.stats.min), human_seconds(r.stats.max),
               fmt::format("{:.2f}x", speedup), fmt::format("{:.2f}", speedup / r.workers),
               fmt::format("{:.6f}", std::stod(r.answer)), r.ok ? "ok" : "WRONG"});
  };
  add_row(seq);
  for (int w : workers) {
    table.separator();
    for (std::size_t i = 1; i < variants.size(); ++i) {
      add_row(by.at({variants[i].name, w}));
    }
  }
  table.print();

  // The targets (BENCHMARKS.md), at the largest worker count the machine runs at once.
  const int main_w = main_workers(workers);
  if (main_w > 1 && by.count({"pool.map", main_w}) != 0) {
    const Record& pool = by.at({"pool.map", main_w});
    const double eff = seq.stats.median / pool.stats.median / main_w;
    fmt::print("\n  pool.map, {} workers: parallel efficiency {:.2f} (target >= 0.95)", main_w,
               eff);
    if (by.count({"openmp", main_w}) != 0) {
      const double ratio = pool.stats.median / by.at({"openmp", main_w}).stats.median;
      fmt::print("; time / OpenMP {:.3f} (target <= 1.05)", ratio);
    }
    fmt::print("\n");
  }

  if (ctx.plotter().enabled()) {
    std::string csv = "workers";
    for (std::size_t i = 1; i < variants.size(); ++i) {
      csv += "," + variants[i].name;
    }
    csv += "\n";
    for (int w : workers) {
      csv += fmt::format("{}", w);
      for (std::size_t i = 1; i < variants.size(); ++i) {
        csv += fmt::format(",{}", by.at({variants[i].name, w}).stats.median);
      }
      csv += "\n";
    }
    const std::string script = fmt::format(
        "set termoption noenhanced\n"
        "tseq = {}\n"
        "cpus = {}\n"
        "ncol = {}\n"
        "set multiplot layout 1,2 title 'Monte Carlo pi, {} samples, {} CPUs (median of {})'\n"
        "set xlabel 'workers'\n"
        "set xtics 1\n"
        "set yrange [0:*]\n"
        "set key top right\n"
        "set ylabel 'time (s)'\n"
        "plot for [i=2:ncol] csv using 1:i with linespoints lw 2 pt 7 title columnheader(i), "
        "tseq with lines dt 2 lw 2 lc rgb 'gray40' title 'sequential'\n"
        "set ylabel 'speedup over sequential'\n"
        "set yrange [0:cpus * 1.2]\n"
        "set key top left\n"
        "plot for [i=2:ncol] csv using 1:(tseq/column(i)) with linespoints lw 2 pt 7 "
        "title columnheader(i), (x < cpus ? x : cpus) with lines dt 3 lc rgb 'black' "
        "title 'ideal'\n"
        "unset multiplot\n",
        seq.stats.median, cpus, variants.size(), short_count(static_cast<double>(samples)), cpus,
        ctx.repeat());
    ctx.plotter().plot("pi", csv, script);
  }
}

}  // namespace mp_bench
