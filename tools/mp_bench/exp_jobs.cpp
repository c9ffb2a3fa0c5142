// Seeds 001 and 003: four CPU-bound jobs (seed 001's sum of squares, seed 003's
// heavy_work), run one after another, on four std::threads, on four mp::Process children
// and on an mp::Pool. As in the seeds, the process and pool variants start their
// processes inside the timing: this experiment shows what starting them costs.
#include <fmt/core.h>
#include <mp/pool.hpp>
#include <mp/process.hpp>

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "experiments.hpp"
#include "table.hpp"
#include "workloads.hpp"

namespace mp_bench {

namespace {

constexpr int kJobs = 4;  // the seeds' four jobs

struct Workload {
  std::string name;
  std::string seed;
  u128 (*job)(std::uint64_t);
  u128 (*expected)(std::uint64_t);
};

u128 heavy_job(std::uint64_t count) { return heavy_work(count); }
u128 heavy_expected(std::uint64_t count) { return expected_heavy_work(count); }

const std::vector<Workload>& workloads() {
  static const std::vector<Workload> w = {
      {"sum_of_squares", "001", sum_of_squares, expected_sum_of_squares},
      {"heavy_work", "003", heavy_job, heavy_expected},
  };
  return w;
}

const Workload& find_workload(std::string_view name) {
  for (const auto& w : workloads()) {
    if (w.name == name) {
      return w;
    }
  }
  throw std::logic_error("mp-bench: no workload " + std::string(name));
}

// A Process cannot return a value (as in Python): the child checks its own result and
// reports through its exit code (an exception becomes exit code 1).
void job_in_child(u128 (*job)(std::uint64_t), std::uint64_t count, u128 expected) {
  if (job(count) != expected) {
    throw std::runtime_error("wrong result");
  }
}

// The answer of a run: the jobs' common result, or 0 if any differs from `expected`.
using Answer = u128;

std::vector<Variant<Answer>> jobs_variants(const Workload& wl, std::uint64_t count) {
  using Run = std::function<Answer()>;
  const u128 expected = wl.expected(count);
  auto check_all = [expected](const std::vector<u128>& results) -> Answer {
    for (u128 r : results) {
      if (r != expected) {
        return r;
      }
    }
    return expected;
  };
  std::vector<Variant<Answer>> v;
  v.push_back({"sequential", "sequential", [=](int) -> Run {
                 return [=] {
                   std::vector<u128> results;
                   for (int i = 0; i < kJobs; ++i) {
                     results.push_back(wl.job(count));
                   }
                   return check_all(results);
                 };
               }});
  v.push_back({"threads", "thread", [=](int) -> Run {
                 return [=] {
                   std::vector<u128> results(kJobs);
                   std::vector<std::thread> threads;
                   for (std::size_t i = 0; i < results.size(); ++i) {
                     threads.emplace_back(
                         [&results, i, &wl, count] { results[i] = wl.job(count); });
                   }
                   for (auto& t : threads) {
                     t.join();
                   }
                   return check_all(results);
                 };
               }});
  v.push_back({"process", "process", [=](int) -> Run {
                 return [=]() -> Answer {
                   std::vector<mp::Process> procs;
                   for (int i = 0; i < kJobs; ++i) {
                     procs.emplace_back(job_in_child, wl.job, count, expected);
                     procs.back().start();
                   }
                   bool ok = true;
                   for (auto& p : procs) {
                     p.join();
                     ok = ok && p.exitcode() == 0;
                   }
                   return ok ? expected : 0;
                 };
               }});
  v.push_back({"pool.map", "process", [=](int w) -> Run {
                 return [=] {
                   mp::Pool pool(w);
                   const std::vector<std::uint64_t> counts(kJobs, count);
                   const std::vector<u128> results = pool.map(wl.job, counts);
                   pool.close();
                   pool.join();
                   return check_all(results);
                 };
               }});
  return v;
}

// Threads and processes run one per job; the pool has `workers` processes.
int workers_of(const std::string& variant, int workers) {
  if (variant == "sequential") {
    return 1;
  }
  return variant == "pool.map" ? workers : kJobs;
}

Record record_jobs(Context& ctx, const Workload& wl, const Variant<Answer>& v, int workers,
                   std::uint64_t count) {
  const int w = workers_of(v.name, workers);
  const auto t = measure(ctx, v, w,
                         fmt::format("jobs: {}, {}, {} worker(s), count {}", wl.name, v.name, w,
                                     short_count(static_cast<double>(count))));
  const u128 expected = wl.expected(count);
  Record r;
  r.experiment = "jobs";
  r.variant = v.name;
  r.backend = v.backend;
  r.workers = w;
  r.params.str("workload", wl.name)
      .str("seed", wl.seed)
      .integer("jobs", kJobs)
      .integer("count", static_cast<long long>(count));
  if (v.name != "sequential") {
    r.params.add("startup_timed", json_bool(true));
  }
  r.stats = t.stats;
  for (u128 a : t.answers) {
    r.ok = r.ok && a == expected;
  }
  r.answer = to_string(t.answers.back());
  if (!r.ok) {
    ctx.fail(fmt::format("jobs {} {} with {} worker(s): a job computed {}, expected {}", wl.name,
                         v.name, w, to_string(t.answers.back()), to_string(expected)));
  }
  return ctx.add(std::move(r));
}

}  // namespace

Record jobs_measure(Context& ctx, std::string_view workload, std::string_view variant, int workers,
                    std::uint64_t count) {
  const Workload& wl = find_workload(workload);
  const auto variants = jobs_variants(wl, count);
  return record_jobs(ctx, wl, find_variant(variants, variant), workers, count);
}

void run_jobs(Context& ctx) {
  const auto squares = static_cast<std::uint64_t>(ctx.size_or(ctx.options().count, 1e8, 1e9));
  const auto heavy = static_cast<std::uint64_t>(ctx.size_or(ctx.options().heavy_count, 4e7, 4e8));
  const int cpus = mp::cpu_count();
  const std::vector<int> workers = ctx.workers_or({cpus});

  ctx.progress().clear();
  fmt::print("\n== jobs: four CPU-bound jobs (seeds 001 and 003) ==\n");
  fmt::print(
      "sum_of_squares: sum of i*i for i < {} (seed 001: 1e7 in Python); heavy_work: sum of i\n"
      "for i < {} (seed 003: 4e6). Threads and processes: one per job; processes and pools\n"
      "are started inside the timing, as in the seeds. Median of {} runs. {} CPUs.\n\n",
      short_count(static_cast<double>(squares)), short_count(static_cast<double>(heavy)),
      ctx.repeat(), cpus);

  Table table({"workload", "variant", "workers", "median", "min", "max", "speedup", "answer"});
  std::map<std::string, std::vector<std::pair<std::string, double>>> plot_rows;
  bool first = true;
  for (const Workload& wl : workloads()) {
    const std::uint64_t count = wl.name == "heavy_work" ? heavy : squares;
    const auto variants = jobs_variants(wl, count);
    std::vector<Record> rows;
    for (const auto& v : variants) {
      if (v.name == "pool.map") {
        for (int w : workers) {
          rows.push_back(record_jobs(ctx, wl, v, w, count));
        }
      } else {
        rows.push_back(record_jobs(ctx, wl, v, 1, count));
      }
    }
    if (!first) {
      table.separator();
    }
    first = false;
    const double t_seq = rows.front().stats.median;
    for (const Record& r : rows) {
      table.row({wl.name, r.variant, fmt::format("{}", r.workers), human_seconds(r.stats.median),
                 human_seconds(r.stats.min), human_seconds(r.stats.max),
                 fmt::format("{:.2f}x", t_seq / r.stats.median),
                 r.ok ? r.answer : "WRONG " + r.answer});
      const std::string label =
          r.variant == "pool.map" ? fmt::format("pool.map ({} workers)", r.workers) : r.variant;
      plot_rows[wl.name].emplace_back(label, r.stats.median);
    }
  }
  ctx.progress().clear();
  table.print();

  if (ctx.plotter().enabled()) {
    // One row per variant, one column per workload (clustered bars).
    std::string csv = "variant";
    for (const Workload& wl : workloads()) {
      csv += "," + wl.name;
    }
    csv += "\n";
    const auto& labels = plot_rows.at(workloads().front().name);
    for (std::size_t i = 0; i < labels.size(); ++i) {
      csv += labels[i].first;
      for (const Workload& wl : workloads()) {
        csv += fmt::format(",{}", plot_rows.at(wl.name).at(i).second);
      }
      csv += "\n";
    }
    const std::string script = fmt::format(
        "set termoption noenhanced\n"
        "set title 'four jobs: sum_of_squares (count {}) and heavy_work (count {}), {} CPUs "
        "(median of {})'\n"
        "set style data histograms\n"
        "set style histogram clustered gap 1\n"
        "set style fill solid 0.8 border -1\n"
        "set boxwidth 0.9\n"
        "set yrange [0:*]\n"
        "set ylabel 'time (s)'\n"
        "set grid ytics\n"
        "set key top right\n"
        "plot for [i=2:{}] csv using i:xtic(1) title columnheader(i)\n",
        short_count(static_cast<double>(squares)), short_count(static_cast<double>(heavy)), cpus,
        ctx.repeat(), workloads().size() + 1);
    ctx.plotter().plot("jobs", csv, script);
  }
#ifdef MP_BENCH_HAVE_GMP
  run_cpu_bound(ctx);
#endif
}

}  // namespace mp_bench
