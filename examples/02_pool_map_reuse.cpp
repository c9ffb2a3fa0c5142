// Seed 001 "Pool": the four sum-of-squares jobs on mp::Pool(2).map: two workers are reused, results
// come back in input order.
//
// Python:  p = Pool(processes=2); result = p.map(task, job)
// C++:     mp::Pool pool(2);      auto result = pool.map(task, jobs);
//
// Each job returns (index, pid, sum). Four jobs, two workers: only two distinct PIDs, and
// the results are in the order of the input whichever worker finished first. Exits 1 if
// not. Usage: 02_pool_map_reuse [count = 10000000]
#include <mp/mp.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace {

// sum of i*i for i < 10^7 is 333333283333335000000: more than 64 bits hold. A trivially
// copyable type, so it crosses the process boundary as plain bytes.
__extension__ typedef unsigned __int128 u128;

std::string to_string(u128 v) {
  std::string s;
  do {
    s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  } while (v != 0);
  return s;
}

// Hides a value from the optimizer, so the loop below is run as written instead of being
// replaced by the closed form n(n-1)(2n-1)/6.
inline void opaque(std::uint64_t& x) { asm volatile("" : "+r"(x)); }

u128 sum_of_squares(std::uint64_t count) {
  u128 sum = 0;
  for (std::uint64_t i = 0; i < count; ++i) {
    std::uint64_t square = i * i;  // exact for i < 2^32
    opaque(square);
    sum += square;
  }
  return sum;
}

u128 expected_sum(std::uint64_t n) {
  if (n == 0) {
    return 0;
  }
  return static_cast<u128>(n - 1) * n * (2 * static_cast<u128>(n) - 1) / 6;
}

using Job = std::pair<int, std::uint64_t>;    // (index, count), the seed's `pairs`
using Result = std::tuple<int, pid_t, u128>;  // (index, pid, sum)

// The seed's task(pairs): a free function, so a Pool can send it to its workers.
Result task(Job job) {
  const auto [idx, count] = job;
  return {idx, mp::current_process().pid(), sum_of_squares(count)};
}

void print_results(const std::vector<Result>& results) {
  for (const auto& [idx, pid, sum] : results) {
    std::printf("  (%d, PID %d, %s)\n", idx, static_cast<int>(pid), to_string(sum).c_str());
  }
}

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::uint64_t parse_count(int argc, char** argv) {
  if (argc < 2) {
    return 10'000'000;
  }
  char* end = nullptr;
  const double v = std::strtod(argv[1], &end);  // accepts 1e7
  if (end == argv[1] || *end != '\0' || v < 1 || v > 4e9) {
    std::fprintf(stderr, "usage: %s [count in 1..4e9, default 1e7]\n", argv[0]);
    std::exit(2);
  }
  return static_cast<std::uint64_t>(v);
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);  // a process mp starts by exec becomes a worker here
  const std::uint64_t count = parse_count(argc, argv);
  const std::vector<Job> jobs = {{0, count}, {1, count}, {2, count}, {3, count}};
  std::printf("4 jobs, each the sum of i*i for i < %llu; parent PID %d\n\n",
              static_cast<unsigned long long>(count),
              static_cast<int>(mp::current_process().pid()));

  std::printf("-- mp::Pool(2).map(task, jobs) --\n");
  auto start = Clock::now();
  mp::Pool pool(2);
  const std::vector<pid_t> workers = pool.pids();
  const std::vector<Result> results = pool.map(task, jobs);
  pool.close();
  pool.join();
  const double t_pool = seconds_since(start);
  std::printf("workers: PID %d and PID %d\n", static_cast<int>(workers.at(0)),
              static_cast<int>(workers.at(1)));
  print_results(results);
  std::printf("End Time (Pool of 2): %.3f s\n\n", t_pool);

  std::printf("-- sequential: [task(j) for j in jobs] --\n");
  start = Clock::now();
  std::vector<Result> sequential;
  for (const Job& j : jobs) {
    sequential.push_back(task(j));
  }
  const double t_sequential = seconds_since(start);
  print_results(sequential);
  std::printf("End Time (sequential): %.3f s\n\n", t_sequential);

  // What the seed points out: results in input order, and a worker runs several jobs.
  bool ok = results.size() == jobs.size();
  std::map<pid_t, std::vector<int>> jobs_by_pid;
  for (std::size_t i = 0; ok && i < results.size(); ++i) {
    const auto& [idx, pid, sum] = results[i];
    if (idx != static_cast<int>(i)) {
      std::fprintf(stderr, "FAILED: result %zu is job %d: not in input order\n", i, idx);
      ok = false;
    }
    if (sum != expected_sum(count) || sum != std::get<2>(sequential[i])) {
      std::fprintf(stderr, "FAILED: job %d computed a wrong sum\n", idx);
      ok = false;
    }
    jobs_by_pid[pid].push_back(idx);
  }
  if (jobs_by_pid.size() > 2) {
    std::fprintf(stderr, "FAILED: %zu distinct PIDs from a pool of 2 workers\n",
                 jobs_by_pid.size());
    ok = false;
  }
  std::printf("results in input order: %s\n", ok ? "yes" : "NO");
  std::printf("4 jobs ran in %zu worker process(es), reused:\n", jobs_by_pid.size());
  for (const auto& [pid, idxs] : jobs_by_pid) {
    std::printf("  PID %d ran jobs", static_cast<int>(pid));
    for (int idx : idxs) {
      std::printf(" %d", idx);
    }
    std::printf("\n");
  }
  std::printf(
      "speedup of the pool over sequential: %.2fx (the seed saw 13.5 s vs 8.8 s)\n"
      "When a job takes only milliseconds, starting the pool is a visible share of the time;\n"
      "with more work per job (try %s 1e9) a pool of 2 approaches a speedup of 2.\n",
      t_sequential / t_pool, argv[0]);
  return ok ? 0 : 1;
}
