// mp-bench: the seeds' experiments (docs/seeds.md) as tables, JSON and
// plots, with mp beside C++ peers (threads, OpenMP, oneTBB) and, when Debian's python3
// with joblib is present, beside the seeds' own Python programs.
//
//   mp-bench all --quick --plot plots        # the demo: every experiment at demo sizes
//   mp-bench pi --workers 1,2,4 --json pi.json
//
// Exit code 0 when every answer checked out, 1 when one was wrong, 2 on bad usage.
#include <fmt/core.h>
#include <CLI/CLI.hpp>
#include <mp/process.hpp>
#include <mp/start_method.hpp>
#include <mp/version.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "bench.hpp"
#include "experiments.hpp"
#include "json_writer.hpp"

#ifndef MP_BENCH_BUILD_TYPE
#define MP_BENCH_BUILD_TYPE "unknown"
#endif

namespace {

constexpr int kMaxWorkers = 256;
constexpr const char* kUsage =
    "usage: mp-bench {pi|primes|jobs|overhead|python|all} [--workers LIST] [--repeat N] "
    "[--quick]\n                [--json FILE] [--plot DIR] [size options]; mp-bench --help "
    "for more\n";

// "1,2,4" or "1-4" or "1,3-4": sorted, without duplicates. Throws std::invalid_argument.
std::vector<int> parse_workers(const std::string& text) {
  std::vector<int> out;
  auto number = [&](const std::string& s) {
    std::size_t used = 0;
    int v = 0;
    try {
      v = std::stoi(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != s.size()) {
      throw std::invalid_argument("'" + s + "' is not a number");
    }
    if (v < 1 || v > kMaxWorkers) {
      throw std::invalid_argument(fmt::format("{} workers: not in 1..{}", v, kMaxWorkers));
    }
    return v;
  };
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t end = text.find(',', pos);
    if (end == std::string::npos) {
      end = text.size();
    }
    const std::string item = text.substr(pos, end - pos);
    const auto dash = item.find('-', 1);
    if (dash != std::string::npos) {
      const int lo = number(item.substr(0, dash));
      const int hi = number(item.substr(dash + 1));
      if (lo > hi) {
        throw std::invalid_argument("empty range " + item);
      }
      for (int w = lo; w <= hi; ++w) {
        out.push_back(w);
      }
    } else {
      out.push_back(number(item));
    }
    pos = end + 1;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// A size option's check: a number in lo..hi (1e8 style accepted).
std::function<std::string(const std::string&)> size_in(double lo, double hi) {
  return [lo, hi](const std::string& s) {
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (end == s.c_str() || *end != '\0' || !(v >= lo && v <= hi)) {
      return fmt::format("{} is not a size in {}..{}", s, mp_bench::short_count(lo),
                         mp_bench::short_count(hi));
    }
    return std::string();
  };
}

std::string compiler() {
#if defined(__clang__)
  std::string v = "clang++ " __clang_version__;
  while (!v.empty() && v.back() == ' ') {
    v.pop_back();
  }
  return v;
#elif defined(__GNUC__)
  return "g++ " __VERSION__;
#else
  return "unknown compiler";
#endif
}

std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string one;
  f >> one;
  return one.empty() ? "?" : one;
}

std::string today() {
  const std::time_t now = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", std::localtime(&now));
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);  // a process mp starts by exec becomes a worker here
  CLI::App app{
      "mp-bench: the seeds' experiments with mp, beside threads, OpenMP, oneTBB and Python.\n"
      "Prints a table per experiment; every answer (pi, prime counts, sums) is checked."};
  app.fallthrough();             // the options below may follow the subcommand
  app.require_subcommand(0, 1);  // none: a usage error below, with a clearer message

  mp_bench::Options opt;
  std::string workers_text;
  app.add_option("--workers", workers_text,
                 "worker counts, e.g. 1,2,4 or 1-4 (default: pi 1..2 x CPUs, primes 1..CPUs, "
                 "others CPUs)")
      ->check([](const std::string& s) {
        try {
          parse_workers(s);
        } catch (const std::invalid_argument& e) {
          return std::string(e.what());
        }
        return std::string();
      });
  app.add_option("--repeat", opt.repeat,
                 "timed runs per measurement; the median is reported (default 3 with --quick, "
                 "else 5)")
      ->check(CLI::Range(1, 1000));
  app.add_flag("--quick", opt.quick, "demo sizes: `all --quick` takes a minute or two on 2 cores");
  app.add_option("--only", opt.only,
                 "overhead: only the variants whose name starts with this (e.g. queue.)");
  app.add_option("--json", opt.json_path, "write every measurement to FILE as a JSON array");
  app.add_option("--plot", opt.plot_dir, "draw PNG plots (and their CSV data) into DIR")
      ->check([](const std::string& s) {
        return s.empty() ? std::string("--plot needs a folder name") : std::string();
      });
  app.add_option("--samples", opt.samples, "pi: samples in total (default 1e8 quick, else 1e9)")
      ->check(size_in(1e3, 1e11));
  app.add_option("--limit", opt.limit, "primes: check 1..N (default 3e6 quick, else 1e7)")
      ->check(size_in(1e2, 2e7));
  app.add_option("--count", opt.count,
                 "jobs: sum of squares of i < N per job (default 1e8 quick, else 1e9)")
      ->check(size_in(1, 4e9));
  app.add_option("--heavy-count", opt.heavy_count,
                 "jobs: heavy_work sum of i < N per job (default 4e7 quick, else 4e8)")
      ->check(size_in(1, 4e9));

  using Run = std::function<void(mp_bench::Context&)>;
  const std::vector<std::tuple<std::string, std::string, Run>> experiments = {
      {"pi", "seed 000: Monte Carlo pi, time vs workers (threads, mp::Pool, OpenMP)",
       mp_bench::run_pi},
      {"primes", "seed 000: trial-division primes, time vs chunksize (mp::Pool, threads, OpenMP)",
       mp_bench::run_primes},
      {"jobs", "seeds 001/003: four CPU-bound jobs: sequential, threads, mp::Process, mp::Pool",
       mp_bench::run_jobs},
      {"overhead", "cost of a trivial task: apply, map, start-up, idle CPU, beside C++ peers",
       mp_bench::run_overhead},
      {"python", "the seeds' Python programs beside mp at the same sizes (needs python3-joblib)",
       mp_bench::run_python},
  };
  std::vector<CLI::App*> subs;
  for (const auto& [name, help, run] : experiments) {
    subs.push_back(app.add_subcommand(name, help));
  }
  CLI::App* all = app.add_subcommand("all", "every experiment above, in that order");

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help
    return app.exit(e);
  } catch (const CLI::ExtrasError& e) {
    fmt::print(stderr, "mp-bench: unknown subcommand or argument ({})\n{}", e.what(), kUsage);
    return 2;
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "mp-bench: {}\n{}", e.what(), kUsage);
    return 2;
  }
  if (app.get_subcommands().empty()) {
    fmt::print(stderr, "mp-bench: which experiment? A subcommand is required.\n{}", kUsage);
    return 2;
  }
  if (!workers_text.empty()) {
    opt.workers = parse_workers(workers_text);
  }
  if (!opt.json_path.empty() && !std::ofstream(opt.json_path, std::ios::app)) {
    fmt::print(stderr, "mp-bench: --json: cannot write {}\n{}", opt.json_path, kUsage);
    return 2;
  }

  mp_bench::Context ctx(opt);
  const auto start = mp_bench::Clock::now();
  fmt::print("mp-bench (mp {}): {}, {} build, {} CPUs, load average {}, {}\n", MP_VERSION,
             compiler(), MP_BENCH_BUILD_TYPE, mp::cpu_count(), load_average(), today());
  try {
    for (std::size_t i = 0; i < experiments.size(); ++i) {
      if (subs[i]->parsed() || all->parsed()) {
        ctx.set_subcommand(all->parsed() ? "all" : std::get<0>(experiments[i]));
        std::get<2>(experiments[i])(ctx);
      }
    }
  } catch (const std::exception& e) {
    ctx.progress().clear();
    fmt::print(stderr, "mp-bench: {}\n", e.what());
    if (!opt.json_path.empty()) {
      mp_bench::write_json(opt.json_path, ctx.records());
    }
    return 1;
  }
  ctx.progress().clear();

  bool wrote = true;
  if (!opt.json_path.empty()) {
    wrote = mp_bench::write_json(opt.json_path, ctx.records());
  }
  const double elapsed = mp_bench::seconds_since(start);
  fmt::print("\n{} measurements in {:.1f} s; answers checked: {}{}{}\n", ctx.records().size(),
             elapsed, ctx.failed() ? "SOME WRONG" : "all right",
             opt.json_path.empty() || !wrote ? "" : "; JSON: " + opt.json_path,
             opt.plot_dir.empty() ? "" : "; plots: " + opt.plot_dir);
  return ctx.failed() || !wrote ? 1 : 0;
}
