// Seed 000/004: Monte Carlo pi on mp::Pool(p).map for p = 1..N, and the "numpy surprise" of a
// random generator inherited by forked workers.
//
// Python:  pool = Pool(processes=p)
//          counts = pool.map(estimate_circle, [n / p] * p); pool.close(); pool.join()
// C++:     mp::Pool pool(p);
//          auto counts = pool.map([total, p](std::uint64_t stream) { ... }, streams);
//          pool.close(); pool.join();
//
// An evenly divisible load: time falls about linearly with the processes up to the
// number of cores, then stays flat (the seed plots it; we print a bar per row,
// 40 characters for one process).
// Usage: 04_pi_monte_carlo [samples = 1e8] [max processes = 2 * mp::cpu_count()]
#include <mp/mp.hpp>

#include <sys/types.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <numbers>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace {

constexpr std::uint64_t kSeed = 2024;

// The seed's estimate_circle(n): darts in the unit square that land in the quarter circle.
// Each task draws from its own stream of mp::Random: independent, reproducible numbers.
std::uint64_t estimate_circle(std::uint64_t n, std::uint64_t stream) {
  mp::Random rng(kSeed, stream);
  std::uint64_t inside = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    const double x = rng.uniform();
    const double y = rng.uniform();
    inside += (x * x + y * y < 1.0) ? 1 : 0;
  }
  return inside;
}

// Samples split evenly over `blocks` tasks; task `stream` gets its share. The lambda
// captures two integers only, so it can be sent to the workers.
std::vector<std::uint64_t> run_blocks(mp::Pool& pool, std::uint64_t total, std::uint64_t blocks) {
  std::vector<std::uint64_t> streams;
  for (std::uint64_t s = 0; s < blocks; ++s) {
    streams.push_back(s);
  }
  return pool.map(
      [total, blocks](std::uint64_t stream) {
        const std::uint64_t share = total / blocks + (stream < total % blocks ? 1 : 0);
        return estimate_circle(share, stream);
      },
      streams, 1);
}

// ---- the "numpy surprise" ----------------------------------------------------------------

// One global generator, like numpy's (or C's rand()): seeded once in the parent, and every
// forked worker gets a copy of its state.
std::mt19937_64 g_global_rng;

using Draws = std::array<double, 3>;
double to_unit(std::uint64_t bits) { return static_cast<double>(bits >> 11) * 0x1.0p-53; }

// Three numbers from the inherited global generator. The short sleep lets every worker
// take one task, as the seed's one-task-per-worker map does.
std::tuple<int, pid_t, Draws> draw_from_global(int task) {
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  Draws d{};
  for (double& x : d) {
    x = to_unit(g_global_rng());
  }
  return {task, mp::current_process().pid(), d};
}

// The fix: a generator per task, seeded by (seed, task index).
std::tuple<int, pid_t, Draws> draw_from_own_stream(int task) {
  mp::Random rng(kSeed, static_cast<std::uint64_t>(task));
  Draws d{};
  for (double& x : d) {
    x = rng.uniform();
  }
  return {task, mp::current_process().pid(), d};
}

void print_draws(const std::vector<std::tuple<int, pid_t, Draws>>& rows) {
  for (const auto& [task, pid, d] : rows) {
    std::printf("  task %d (worker PID %d): %.6f %.6f %.6f\n", task, static_cast<int>(pid), d[0],
                d[1], d[2]);
  }
}

bool numpy_surprise() {
  constexpr int kWorkers = 4;
  std::printf("-- the \"numpy surprise\": a global generator seeded once in the parent --\n");
  g_global_rng.seed(42);
  std::mt19937_64 parent_copy = g_global_rng;  // what every forked worker inherits
  Draws inherited{};
  for (double& x : inherited) {
    x = to_unit(parent_copy());
  }

  std::vector<int> tasks;
  for (int t = 0; t < kWorkers; ++t) {
    tasks.push_back(t);
  }
  mp::Pool pool(kWorkers);  // forks the workers now: each gets g_global_rng's state
  const auto global_rows = pool.map(draw_from_global, tasks, 1);
  std::printf("each worker draws 3 numbers from the inherited std::mt19937_64(42):\n");
  print_draws(global_rows);

  // Every worker's first task starts from the same inherited state (a worker that ran two
  // tasks continues its copy, so only its first draws repeat).
  std::map<pid_t, std::set<Draws>> by_worker;
  for (const auto& [task, pid, d] : global_rows) {
    by_worker[pid].insert(d);
  }
  bool ok = true;
  for (const auto& [pid, seen] : by_worker) {
    if (!seen.contains(inherited)) {
      std::fprintf(stderr, "unexpected: worker %d did not draw the inherited sequence\n",
                   static_cast<int>(pid));
      ok = false;
    }
  }
  std::set<Draws> distinct;
  for (const auto& row : global_rows) {
    distinct.insert(std::get<2>(row));
  }
  std::printf(
      "=> %zu worker(s), %zu distinct draw(s) among %d tasks: the \"random\" numbers "
      "repeat in every worker\n\n",
      by_worker.size(), distinct.size(), kWorkers);

  std::printf("-- the fix: mp::Random(seed, task index), one independent stream per task --\n");
  const auto own_rows = pool.map(draw_from_own_stream, tasks, 1);
  pool.close();
  pool.join();
  print_draws(own_rows);
  std::set<double> values;
  for (const auto& row : own_rows) {
    for (double x : std::get<2>(row)) {
      values.insert(x);
    }
  }
  const bool all_distinct = values.size() == own_rows.size() * 3;
  std::printf(
      "=> all %zu numbers distinct: %s; the same (seed, task) gives the same numbers in "
      "any worker, on any run\n\n",
      own_rows.size() * 3, all_distinct ? "yes" : "NO");
  return ok && all_distinct;
}

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double parse(int argc, char** argv, int i, double fallback, double lo, double hi) {
  if (argc <= i) {
    return fallback;
  }
  char* end = nullptr;
  const double v = std::strtod(argv[i], &end);  // accepts 1e8
  if (end == argv[i] || *end != '\0' || !(v >= lo && v <= hi)) {
    std::fprintf(stderr, "usage: %s [samples = 1e8] [max processes = 2 * cpus, at most 64]\n",
                 argv[0]);
    std::exit(2);
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);  // a process mp starts by exec becomes a worker here
  const auto total = static_cast<std::uint64_t>(parse(argc, argv, 1, 1e8, 1e3, 1e12));
  const int max_processes = static_cast<int>(parse(argc, argv, 2, 2 * mp::cpu_count(), 1, 64));

  bool ok = numpy_surprise();

  // Standard error of the estimate: 4 * sqrt(p (1 - p) / n), p = pi / 4.
  constexpr double kQuarter = std::numbers::pi / 4;
  const double sd = 4 * std::sqrt(kQuarter * (1 - kQuarter) / static_cast<double>(total));
  std::printf("-- Monte Carlo pi, %.3g samples split over 1..%d processes (%d CPUs) --\n",
              static_cast<double>(total), max_processes, mp::cpu_count());
  std::printf("standard error of one estimate: %.2e\n", sd);
  std::printf("processes   time (s)   pi estimate   error/sd   speedup   time\n");
  double t_one = 0;
  for (int p = 1; p <= max_processes; ++p) {
    const auto start = Clock::now();
    mp::Pool pool(p);
    const auto counts = run_blocks(pool, total, static_cast<std::uint64_t>(p));
    pool.close();
    pool.join();
    const double t = seconds_since(start);
    std::uint64_t inside = 0;
    for (std::uint64_t c : counts) {
      inside += c;
    }
    const double pi = 4.0 * static_cast<double>(inside) / static_cast<double>(total);
    if (p == 1) {
      t_one = t;
    }
    const double z = (pi - std::numbers::pi) / sd;
    std::string bar(static_cast<std::size_t>(std::min(60L, std::lround(40 * t / t_one))), '#');
    std::printf("%9d   %8.3f   %11.7f   %+8.2f   %6.2fx   %s\n", p, t, pi, z, t_one / t,
                bar.c_str());
    if (std::abs(z) > 6) {
      std::fprintf(stderr, "FAILED: the estimate with %d processes is %.1f standard errors off\n",
                   p, z);
      ok = false;
    }
  }
  std::printf("(expected: time falls about as 1/processes up to the %d cores, then stays flat)\n",
              mp::cpu_count());
  return ok ? 0 : 1;
}
