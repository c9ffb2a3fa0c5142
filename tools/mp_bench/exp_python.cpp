// The seeds' Python programs (python/*.py, run by Debian's python3) beside mp at the same
// sizes, in the same run: the side-by-side the seeds' readers want. Sizes are scaled so
// that CPython finishes in seconds; mp's counterparts are measured here at those sizes.
#include <fmt/core.h>
#include <mp/process.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "experiments.hpp"
#include "table.hpp"
#include "workloads.hpp"

#ifndef MP_BENCH_PYTHON_DIR
#error "MP_BENCH_PYTHON_DIR must name tools/mp_bench/python (set by tools/CMakeLists.txt)"
#endif

namespace mp_bench {

namespace {

constexpr const char* kPython = "/usr/bin/python3";

struct PySizes {
  std::uint64_t samples;
  std::uint32_t limit;
  std::uint64_t count;
  std::uint64_t heavy;
  int apply;
  int map_small;
  int map_large;
  int joblib;
  int queue_items;
  int queue_big;
  int lock_pairs;
  int memory_calls;
};

PySizes py_sizes(bool quick) {
  if (quick) {
    return {2'000'000, 50'000, 300'000, 1'000'000, 500,     10'000,
            100'000,   10'000, 20'000,  100,       200'000, 100};
  }
  return {10'000'000, 200'000, 1'000'000, 4'000'000, 2'000,     50'000,
          1'000'000,  50'000,  200'000,   500,       1'000'000, 300};
}

using Fields = std::map<std::string, std::string>;

std::string sh_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

// Runs python/<script> with `args`; the fields of each RESULT line. false if it failed.
bool run_script(Context& ctx, const std::string& script, const std::string& args,
                std::vector<Fields>& out) {
  const auto path = std::filesystem::path(MP_BENCH_PYTHON_DIR) / script;
  ctx.progress().show(fmt::format("python: {} {}", script, args));
  std::fflush(stdout);
  const std::string cmd = fmt::format("{} {} {}", kPython, sh_quote(path.string()), args);
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) {
    ctx.fail("cannot run " + cmd);
    return false;
  }
  std::string line;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, pipe) != nullptr) {
    line += buf;
    if (line.empty() || line.back() != '\n') {
      continue;
    }
    line.pop_back();
    if (line.rfind("RESULT ", 0) == 0) {
      Fields f;
      std::size_t pos = 7;
      while (pos < line.size()) {
        std::size_t end = line.find(' ', pos);
        if (end == std::string::npos) {
          end = line.size();
        }
        const std::string kv = line.substr(pos, end - pos);
        const auto eq = kv.find('=');
        if (eq != std::string::npos) {
          f[kv.substr(0, eq)] = kv.substr(eq + 1);
        }
        pos = end + 1;
      }
      out.push_back(std::move(f));
    }
    line.clear();
  }
  const int status = ::pclose(pipe);
  if (status != 0) {
    ctx.fail(fmt::format("{} exited with status {}", cmd, status));
    return false;
  }
  return true;
}

double num(const Fields& f, const std::string& key) {
  const auto it = f.find(key);
  return it == f.end() ? 0 : std::strtod(it->second.c_str(), nullptr);
}
std::string str(const Fields& f, const std::string& key) {
  const auto it = f.find(key);
  return it == f.end() ? "" : it->second;
}

// A Python result as a Record; `check` says whether its answer is right, `answer` is the
// JSON value stored.
Record python_record(Context& ctx, const std::string& experiment, const Fields& f, Params params,
                     bool ok, std::string answer) {
  Record r;
  r.experiment = experiment;
  r.variant = str(f, "variant");
  r.backend = "python";
  r.workers = static_cast<int>(num(f, "workers"));
  r.params = std::move(params);
  r.unit = str(f, "unit");
  r.stats = {num(f, "median"), num(f, "min"), num(f, "max"), static_cast<int>(num(f, "repeat"))};
  r.ok = ok;
  r.answer = std::move(answer);
  if (!ok) {
    ctx.fail(fmt::format("python {} {} with {} worker(s): wrong answer {}", experiment, r.variant,
                         r.workers, str(f, "answer")));
  }
  return ctx.add(std::move(r));
}

// Seconds per item (or per run) of a record, whatever its unit.
double seconds_of(const Record& r) {
  return r.unit == "items/s" ? 1 / r.stats.median : r.stats.median;
}

struct Comparison {
  std::string experiment;
  std::string what;
  int workers;
  Record python;
  Record mp;
};

}  // namespace

void run_python(Context& ctx) {
  if (std::system(fmt::format("{} -c 'import joblib' >/dev/null 2>&1", kPython).c_str()) != 0) {
    ctx.progress().clear();
    fmt::print(
        "\n== python: skipped: {} with joblib not found (Debian: python3 python3-joblib) ==\n",
        kPython);
    return;
  }
  const PySizes n = py_sizes(ctx.quick());
  const int cpus = mp::cpu_count();
  const std::vector<int> pi_workers =
      ctx.workers_or(cpus > 1 ? std::vector<int>{1, cpus} : std::vector<int>{1});
  const int w = main_workers(ctx.workers_or({cpus}));
  const std::string common = fmt::format("--repeat {}", ctx.repeat());
  std::string pi_list;
  for (int x : pi_workers) {
    pi_list += (pi_list.empty() ? "" : ",") + std::to_string(x);
  }

  ctx.progress().clear();
  fmt::print("\n== python: the seeds' Python programs beside mp, same sizes, same run ==\n");
  fmt::print(
      "{} (CPython, multiprocessing with fork, joblib). Sizes scaled for Python: pi {} "
      "samples,\nprimes 1..{}, jobs count {} / heavy_work {}. Pools started before the clock "
      "except in\njobs (as the seeds). Median of {} runs. mp / Python < 1: mp is faster.\n\n",
      kPython, short_count(static_cast<double>(n.samples)), short_count(n.limit),
      short_count(static_cast<double>(n.count)), short_count(static_cast<double>(n.heavy)),
      ctx.repeat());

  std::vector<Comparison> rows;
  std::vector<Fields> res;

  // pi
  if (run_script(ctx, "pi.py",
                 fmt::format("{} --workers {} --samples {}", common, pi_list, n.samples), res)) {
    for (const Fields& f : res) {
      // Python's generator is unseeded (as in the seed): each run's count is checked.
      bool ok = true;
      PiCheck c;
      std::size_t pos = 0;
      const std::string answers = str(f, "answers");
      while (pos < answers.size()) {
        std::size_t end = answers.find(',', pos);
        end = end == std::string::npos ? answers.size() : end;
        c = check_pi(std::strtoull(answers.substr(pos, end - pos).c_str(), nullptr, 10), n.samples);
        ok = ok && c.ok;
        pos = end + 1;
      }
      Record py = python_record(ctx, "pi", f,
                                Params{}.integer("samples", static_cast<long long>(n.samples)),
                                ok && !answers.empty(), json_number(c.estimate));
      Record mine = pi_measure(ctx, "pool.map", py.workers, n.samples);
      rows.push_back({"pi", "pool.map", py.workers, py, mine});
    }
  }

  // primes
  res.clear();
  const std::uint64_t primes = count_primes_sieve(n.limit);
  if (run_script(ctx, "primes.py", fmt::format("{} --workers {} --limit {}", common, w, n.limit),
                 res)) {
    for (const Fields& f : res) {
      Params p;
      p.integer("limit", n.limit);
      if (f.count("chunksize") != 0) {
        p.integer("chunksize", static_cast<long long>(num(f, "chunksize")));
      }
      Record py = python_record(ctx, "primes", f, p, str(f, "answer") == std::to_string(primes),
                                json_int(static_cast<long long>(num(f, "answer"))));
      const std::string variant = py.variant.substr(std::string("python.").size());
      Record mine = primes_measure(ctx, variant, py.workers, n.limit);
      rows.push_back({"primes", variant, py.workers, py, mine});
    }
  }

  // jobs
  res.clear();
  if (run_script(
          ctx, "jobs.py",
          fmt::format("{} --workers {} --count {} --heavy-count {}", common, w, n.count, n.heavy),
          res)) {
    for (const Fields& f : res) {
      const std::string workload = str(f, "workload");
      const std::uint64_t count = workload == "heavy_work" ? n.heavy : n.count;
      const std::string expected = workload == "heavy_work"
                                       ? std::to_string(expected_heavy_work(count))
                                       : to_string(expected_sum_of_squares(count));
      const std::string answer = str(f, "answer");
      const bool ok = answer == expected;
      Record py = python_record(
          ctx, "jobs", f,
          Params{}.str("workload", workload).integer("count", static_cast<long long>(count)), ok,
          ok ? answer : json_string(answer));
      const std::string variant = py.variant.substr(std::string("python.").size());
      Record mine = jobs_measure(ctx, workload, variant, py.workers, count);
      rows.push_back({"jobs", workload + " " + variant, py.workers, py, mine});
    }
  }

  // overhead
  res.clear();
  if (run_script(ctx, "overhead.py",
                 fmt::format("{} --workers {} --apply {} --map-small {} --map-large {} --joblib {} "
                             "--queue-items {} --queue-big {} --lock-pairs {} --memory-calls {}",
                             common, w, n.apply, n.map_small, n.map_large, n.joblib, n.queue_items,
                             n.queue_big, n.lock_pairs, n.memory_calls),
                 res)) {
    for (const Fields& f : res) {
      const auto items = static_cast<long long>(num(f, "items"));
      const std::string variant = str(f, "variant");
      // A round trip chain (and a count of lock pairs) ends at `items`; a map, and the
      // items through a queue, sum 1..items.
      const bool chain = variant == "python.pool.apply" || variant.ends_with(".submit") ||
                         variant.ends_with(".roundtrip") || variant.starts_with("python.lock.") ||
                         variant.starts_with("python.memory.");
      const std::string expected =
          chain ? std::to_string(items) : std::to_string(items * (items + 1) / 2);
      const bool ok = str(f, "answer") == expected;
      Record py =
          python_record(ctx, "overhead", f, Params{}.integer("items", items), ok, json_bool(ok));
      std::string mine_variant = variant.substr(std::string("python.").size());
      if (mine_variant == "joblib.tiny") {
        mine_variant = "parallel.tiny";
      }
      Record mine = overhead_measure(ctx, mine_variant, py.workers, static_cast<int>(items));
      rows.push_back(
          {"overhead",
           variant == "python.joblib.tiny" ? "joblib.tiny vs parallel.tiny" : mine_variant,
           py.workers, py, mine});
    }
  }

  ctx.progress().clear();
  Table table({"experiment", "comparison", "workers", "Python", "mp", "mp / Python", "mp faster"});
  std::string last;
  for (const Comparison& c : rows) {
    if (!last.empty() && c.experiment != last) {
      table.separator();
    }
    last = c.experiment;
    auto show = [](const Record& r) {
      return r.unit == "items/s" ? human_rate(r.stats.median) : human_seconds(r.stats.median);
    };
    const double ratio = seconds_of(c.mp) / seconds_of(c.python);
    table.row({c.experiment, c.what, fmt::format("{}", c.workers), show(c.python), show(c.mp),
               fmt::format("{:.4f}", ratio), fmt::format("{:.1f}x", 1 / ratio)});
  }
  table.print();
  fmt::print(
      "\n  Times are per run, except apply (per round trip) and the maps of trivial items (rates:\n"
      "  items/s; their ratio compares time per item).\n");

  if (ctx.plotter().enabled() && !rows.empty()) {
    std::string csv = "comparison,Python,mp\n";
    for (const Comparison& c : rows) {
      csv += fmt::format("{} {} ({}w),{},{}\n", c.experiment, c.what, c.workers,
                         seconds_of(c.python), seconds_of(c.mp));
    }
    const std::string script = fmt::format(
        "set termoption noenhanced\n"
        "set title 'the seeds in Python vs mp, same sizes (median of {}; log scale; per run, "
        "per round trip or per item)'\n"
        "set style data histograms\n"
        "set style histogram clustered gap 1\n"
        "set style fill solid 0.8 border -1\n"
        "set logscale y\n"
        "set format y '%.0e'\n"
        "set ylabel 'seconds'\n"
        "set xtics rotate by -40 font ',8'\n"
        "set bmargin 10\n"
        "set grid ytics\n"
        "plot csv using 2:xtic(1) title 'Python' lc rgb 'goldenrod', '' using 3 title 'mp' lc "
        "rgb 'steelblue'\n",
        ctx.repeat());
    ctx.plotter().plot("python", csv, script, 1200, 650);
  }
}

}  // namespace mp_bench
