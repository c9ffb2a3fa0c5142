// The measurement machinery every experiment of mp-bench shares: options, records (one per
// measurement, as the JSON contract names them), timing with medians, answer checks and
// the progress line.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "plot.hpp"
#include "progress.hpp"

namespace mp_bench {

using Clock = std::chrono::steady_clock;
inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// What the command line asked for. A size of 0 means "the experiment's default for
// --quick or for a full run".
struct Options {
  std::vector<int> workers;  // empty: each experiment's default list
  int repeat = 0;            // 0: 3 with --quick, else 5
  bool quick = false;
  std::string only;  // overhead: run only the variants whose name starts with this
  std::string json_path;
  std::string plot_dir;
  double samples = 0;      // pi
  double limit = 0;        // primes: check 1..limit
  double count = 0;        // jobs: sum of squares per job
  double heavy_count = 0;  // jobs: heavy_work per job
};

struct Stats {
  double median = 0;
  double min = 0;
  double max = 0;
  int repeat = 0;
};
// Median, min and max of `samples` (not empty).
Stats summarize(std::vector<double> samples);

// JSON values, formatted.
std::string json_string(std::string_view s);
std::string json_number(double v);  // null if not finite
std::string json_int(long long v);
std::string json_uint(unsigned long long v);
inline std::string json_bool(bool b) { return b ? "true" : "false"; }

// An object's members, each value already JSON.
class Params {
 public:
  Params& add(std::string key, std::string json_value) {
    members_.emplace_back(std::move(key), std::move(json_value));
    return *this;
  }
  Params& num(std::string key, double v) { return add(std::move(key), json_number(v)); }
  Params& integer(std::string key, long long v) { return add(std::move(key), json_int(v)); }
  Params& str(std::string key, std::string_view v) { return add(std::move(key), json_string(v)); }
  const std::vector<std::pair<std::string, std::string>>& members() const { return members_; }

 private:
  std::vector<std::pair<std::string, std::string>> members_;
};

// One measurement: the fields of the JSON output (json_writer.hpp), plus the subcommand that
// produced it.
struct Record {
  std::string experiment;
  std::string variant;
  std::string backend;  // sequential, process, thread, mpi, openmp, tbb, python
  int workers = 1;
  Params params;
  std::string unit = "s";  // s, items/s, cores
  Stats stats;
  std::string answer = "null";  // JSON value
  bool ok = true;
  std::string subcommand;
};

// A measured value: its statistics over the repeats and every repeat's answer.
template <class A>
struct Timed {
  Stats stats;
  std::vector<A> answers;
};

class Context {
 public:
  explicit Context(Options options);

  const Options& options() const { return options_; }
  int repeat() const { return repeat_; }
  bool quick() const { return options_.quick; }
  // False for an overhead variant --only leaves out.
  bool selects(const std::string& variant) const { return variant.starts_with(options_.only); }
  // --workers if given, else `fallback`.
  std::vector<int> workers_or(std::vector<int> fallback) const;
  // The size option `given` if non-zero, else `quick` or `full` by --quick.
  double size_or(double given, double quick, double full) const {
    return given != 0 ? given : (options_.quick ? quick : full);
  }

  // Stores a measurement for --json; a failed answer check makes the run fail.
  const Record& add(Record r);
  // Reports a failed check on stderr; the program will exit 1.
  void fail(std::string_view what);
  bool failed() const { return failed_; }
  const std::vector<Record>& records() const { return records_; }

  Progress& progress() { return progress_; }
  Plotter& plotter() { return plotter_; }
  void set_subcommand(std::string s) { subcommand_ = std::move(s); }

  // Times `repeat` calls of run() (seconds each), showing `label` on the progress line.
  template <class F>
  auto time_runs(std::string_view label, int repeat, F&& run) {
    using A = decltype(run());
    Timed<A> out;
    std::vector<double> secs;
    for (int r = 0; r < repeat; ++r) {
      progress_.show(label, r + 1, repeat);
      const auto start = Clock::now();
      out.answers.push_back(run());
      secs.push_back(seconds_since(start));
    }
    out.stats = summarize(std::move(secs));
    return out;
  }
  template <class F>
  auto time_runs(std::string_view label, F&& run) {
    return time_runs(label, repeat_, std::forward<F>(run));
  }

 private:
  Options options_;
  int repeat_;
  std::vector<Record> records_;
  bool failed_ = false;
  Progress progress_;
  Plotter plotter_;
  std::string subcommand_;
};

// One way of running an experiment's workload (sequential, threads, mp::Pool, OpenMP...).
// A new backend or front end (an executor, Parallel, MPI) is one more entry in an
// experiment's list of variants.
template <class A>
struct Variant {
  std::string name;
  std::string backend;  // sequential, process, thread, mpi, openmp, tbb, python
  // Sets up what the clock does not see (a started pool, an OpenMP team) for `workers`
  // and returns one timed run, which returns the answer to check.
  std::function<std::function<A()>(int workers)> prepare;
  // Its threads spin on for a while after a run (OpenMP): pause before the next variant.
  bool lingers = false;
};

template <class A>
const Variant<A>& find_variant(const std::vector<Variant<A>>& variants, std::string_view name) {
  for (const auto& v : variants) {
    if (v.name == name) {
      return v;
    }
  }
  throw std::logic_error("mp-bench: no variant " + std::string(name));
}

void pause_for_lingering_threads();

// Prepares `v` for `workers`, times ctx.repeat() runs and releases what it set up.
template <class A>
Timed<A> measure(Context& ctx, const Variant<A>& v, int workers, std::string_view label) {
  Timed<A> t;
  {
    auto run = v.prepare(workers);
    t = ctx.time_runs(label, run);
  }
  if (v.lingers) {
    pause_for_lingering_threads();
  }
  return t;
}

// Rates from per-run seconds: items / t. min and max swap places.
Stats rate_stats(const Stats& seconds, double items);

// The worker count an experiment uses when it needs one: the largest listed count that
// the machine can run at once, else the smallest listed.
int main_workers(const std::vector<int>& workers);
// 1..n.
std::vector<int> one_to(int n);

// "12.3 ms", "4.56 us", "1.23 s".
std::string human_seconds(double s);
// "1.23 M/s".
std::string human_rate(double per_second);
// "1e+08" style for sizes: 100000000 -> "1e8", 4000000 -> "4e6", 123 -> "123".
std::string short_count(double n);

}  // namespace mp_bench
