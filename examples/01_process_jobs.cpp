// Seed 001 "Process": four sum-of-squares jobs as four mp::Process children vs one after another.
//
// Python:  p = Process(target=task, args=(idx, count)); p.start(); ...; p.join()
// C++:     mp::Process p(task, idx, count);            p.start(); ...; p.join();
//
// Every job prints the PID it runs in: four different children, then the parent's PID four
// times for the sequential run. Usage: 01_process_jobs [count = 10000000]
#include <mp/mp.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// sum of i*i for i < 10^7 is 333333283333335000000: more than 64 bits hold.
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
// replaced by the closed form n(n-1)(2n-1)/6 (which clang finds).
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

// The seed's task(idx, count), printing the PID it runs in and its result. A wrong result
// throws: in a child that becomes exit code 1, which the parent checks.
void task(int idx, const std::string& name, std::uint64_t count) {
  const u128 sum = sum_of_squares(count);
  std::printf("job %d (%s): PID %d, result %s\n", idx, name.c_str(),
              static_cast<int>(mp::current_process().pid()), to_string(sum).c_str());
  std::fflush(stdout);
  if (sum != expected_sum(count)) {
    throw std::runtime_error("job " + std::to_string(idx) + ": wrong sum");
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
  const std::vector<std::string> names = {"first", "second", "third", "fourth"};
  std::printf("4 jobs, each the sum of i*i for i < %llu; parent PID %d, %d CPUs\n\n",
              static_cast<unsigned long long>(count), static_cast<int>(mp::current_process().pid()),
              mp::cpu_count());

  std::printf("-- 4 mp::Process, started together, then joined --\n");
  auto start = Clock::now();
  std::vector<mp::Process> processes;
  for (int i = 0; i < 4; ++i) {
    processes.emplace_back(task, i, names[static_cast<std::size_t>(i)], count);
    processes.back().start();
  }
  bool ok = true;
  for (mp::Process& p : processes) {
    p.join();
    if (p.exitcode() != 0) {
      std::fprintf(stderr, "%s (PID %d) failed, exit code %d\n", p.name().c_str(),
                   static_cast<int>(p.pid()), p.exitcode().value_or(-1));
      ok = false;
    }
  }
  const double t_processes = seconds_since(start);
  std::printf("End Time (4 processes): %.3f s\n\n", t_processes);

  std::printf("-- sequential, in this process --\n");
  start = Clock::now();
  try {
    for (int i = 0; i < 4; ++i) {
      task(i, names[static_cast<std::size_t>(i)], count);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    ok = false;
  }
  const double t_sequential = seconds_since(start);
  std::printf("End Time (sequential):  %.3f s\n\n", t_sequential);

  std::printf(
      "speedup of processes over sequential: %.2fx (%d CPUs; the seed saw 14.0 s vs 7.6 s)\n",
      t_sequential / t_processes, mp::cpu_count());
  std::printf(
      "C++ runs this loop hundreds of times faster than CPython, so at the seed's count the\n"
      "cost of starting a process (a fork, about a millisecond) is a visible share of the\n"
      "time; with more work per job (try %s 1e9) processes approach a speedup of %d.\n",
      argv[0], std::min(4, mp::cpu_count()));
  if (!ok) {
    std::fprintf(stderr, "FAILED: a job computed a wrong result\n");
    return 1;
  }
  return 0;
}
