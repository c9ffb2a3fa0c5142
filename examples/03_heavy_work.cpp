// Seed 003: heavy_work four times: sequential vs 4 std::thread vs 4 mp::Process vs mp::Pool(4).map.
//
// The seed's point, in Python: threads do not speed up CPU work (the GIL), processes do.
// In C++ there is no GIL: threads DO speed up CPU work, and are the cheaper choice when the
// work can share memory safely. Processes buy isolation (a crash, a leak or a global stays
// in its process) at the price of a start-up cost; for work this small that cost shows.
// Each variant is timed as the best of a few rounds.
// Usage: 03_heavy_work [count = 4000000] [jobs = 4] [rounds = 3]
#include <mp/mp.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

// Hides a value from the optimizer, so the loop below is run as written instead of being
// replaced by the closed form n(n-1)/2.
inline void opaque(std::uint64_t& x) { asm volatile("" : "+r"(x)); }

// The seed's heavy_work: sum of i for i < count.
std::uint64_t heavy_work(std::uint64_t count) {
  std::uint64_t result = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint64_t term = i;
    opaque(term);
    result += term;
  }
  return result;
}

// A Process cannot return a value (as in Python): the child checks its own result against
// the sequential one and reports through its exit code (an exception becomes exit code 1).
void heavy_work_in_process(int name, std::uint64_t count, std::uint64_t expected, bool print) {
  const std::uint64_t result = heavy_work(count);
  if (print) {
    std::printf("Process %d done (PID %d)\n", name, static_cast<int>(mp::current_process().pid()));
  }
  if (result != expected) {
    throw std::runtime_error("Process " + std::to_string(name) + ": wrong result");
  }
}

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The best of `rounds` runs of f(first_round): one run of a few milliseconds is at the mercy
// of the scheduler (waking an idle core, another program), the best of three much less.
template <class F>
double best_time(int rounds, F f) {
  double best = 0;
  for (int r = 0; r < rounds; ++r) {
    const auto start = Clock::now();
    f(r == 0);
    const double t = seconds_since(start);
    best = (r == 0 || t < best) ? t : best;
  }
  return best;
}

long long parse(int argc, char** argv, int i, long long fallback, long long lo, long long hi) {
  if (argc <= i) {
    return fallback;
  }
  char* end = nullptr;
  const double v = std::strtod(argv[i], &end);  // accepts 4e6
  if (end == argv[i] || *end != '\0' || v < static_cast<double>(lo) ||
      v > static_cast<double>(hi)) {
    std::fprintf(stderr, "usage: %s [count = 4e6] [jobs = 4, at most 64] [rounds = 3]\n", argv[0]);
    std::exit(2);
  }
  return static_cast<long long>(v);
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);  // a process mp starts by exec becomes a worker here
  const auto count = static_cast<std::uint64_t>(parse(argc, argv, 1, 4'000'000, 1, 4'000'000'000));
  const auto jobs = static_cast<int>(parse(argc, argv, 2, 4, 1, 64));
  const auto rounds = static_cast<int>(parse(argc, argv, 3, 3, 1, 100));
  const auto njobs = static_cast<std::size_t>(jobs);
  std::printf("heavy_work = sum of i for i < %llu, %d times; %d CPUs; best of %d rounds\n\n",
              static_cast<unsigned long long>(count), jobs, mp::cpu_count(), rounds);
  const std::uint64_t expected = count * (count - 1) / 2;
  bool ok = true;

  // 1. Sequential.
  std::vector<std::uint64_t> sequential(njobs);
  const double t_sequential = best_time(rounds, [&](bool print) {
    for (int i = 0; i < jobs; ++i) {
      sequential[static_cast<std::size_t>(i)] = heavy_work(count);
      if (print) {
        std::printf("%d done\n", i);
      }
    }
  });
  std::printf("sequential:              %.4f s\n\n", t_sequential);
  for (std::uint64_t r : sequential) {
    ok = ok && r == expected;
  }

  // 2. Threads: the seed's threading.Thread.
  std::vector<std::uint64_t> threaded(njobs);
  const double t_threads = best_time(rounds, [&](bool print) {
    std::vector<std::thread> threads;
    for (int i = 0; i < jobs; ++i) {
      threads.emplace_back([i, count, print, &threaded] {
        threaded[static_cast<std::size_t>(i)] = heavy_work(count);
        if (print) {
          std::printf("Thread %d done\n", i);
        }
      });
    }
    for (std::thread& t : threads) {
      t.join();
    }
  });
  std::printf("%d std::thread:           %.4f s\n\n", jobs, t_threads);
  if (threaded != sequential) {
    std::fprintf(stderr, "FAILED: threads computed different results\n");
    ok = false;
  }

  // 3. Processes: the seed's multiprocessing.Process. A child cannot return its result: it
  // checks it against the sequential one and says so through its exit code.
  const double t_processes = best_time(rounds, [&](bool print) {
    std::vector<mp::Process> procs;
    for (int i = 0; i < jobs; ++i) {
      procs.emplace_back(heavy_work_in_process, i, count, expected, print);
      procs.back().start();
    }
    for (mp::Process& p : procs) {
      p.join();
      if (p.exitcode() != 0) {
        std::fprintf(stderr, "FAILED: %s exited with %d\n", p.name().c_str(),
                     p.exitcode().value_or(-1));
        ok = false;
      }
    }
  });
  std::printf("%d mp::Process:           %.4f s\n\n", jobs, t_processes);

  // 4. A pool of 4 worker processes (the seed's multiprocessing.Pool section), started and
  // closed in the timing as Python's `with Pool(4) as pool:`; the map alone timed too.
  const std::vector<std::uint64_t> counts(njobs, count);
  double t_map = 0;
  const double t_pool = best_time(rounds, [&](bool print) {
    mp::Pool pool(4);
    const auto map_start = Clock::now();
    const std::vector<std::uint64_t> pooled = pool.map(heavy_work, counts);
    const double t = seconds_since(map_start);
    t_map = (print || t < t_map) ? t : t_map;
    pool.close();
    pool.join();
    if (pooled != sequential) {
      std::fprintf(stderr, "FAILED: the pool computed different results\n");
      ok = false;
    }
    if (print) {
      for (int i = 0; i < jobs; ++i) {
        std::printf("Pool job %d done\n", i);
      }
    }
  });
  std::printf(
      "mp::Pool(4).map:          %.4f s (map alone %.4f s, the rest is starting and "
      "stopping 4 workers)\n\n",
      t_pool, t_map);

  std::printf("results of all four variants equal: %s (each %llu)\n", ok ? "yes" : "NO",
              static_cast<unsigned long long>(expected));
  std::printf(
      "speedup over sequential: threads %.2fx, processes %.2fx, pool %.2fx (pool map "
      "alone %.2fx)\n",
      t_sequential / t_threads, t_sequential / t_processes, t_sequential / t_pool,
      t_sequential / t_map);
  std::printf(
      "Note: unlike Python (GIL), C++ threads DO speed up CPU-bound work, up to the number of\n"
      "cores. Processes do too, but each costs a fork (and a pool its start-up): when a job\n"
      "takes only milliseconds, that cost can eat the gain (try %s 4e8).\n",
      argv[0]);
  return ok ? 0 : 1;
}
