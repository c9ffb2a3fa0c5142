// joblib's Memory, from seed 000: calc_pi's results cached on disk by their arguments,
// still there in the next session (the next run of this program, tomorrow, after a reboot).
//
// Python:  memory = Memory("cachedir"); calc_pi = memory.cache(calc_pi); calc_pi(10**8)
// C++:     mp::Memory memory("cachedir"); auto calc = memory.cache(calc_pi); calc(100'000'000);
//
// The first call computes pi (on every core, with Parallel) and stores it; a new process,
// started from scratch by the spawn start method, then finds it in the cache at once, as
// a second run of the program would. Run the program twice: the second run computes
// nothing.
// Usage: 14_memory_cache [samples = 1e8] [cache directory = $TMPDIR/mp-example-14-cache]
#include <mp/mp.hpp>  // Memory, Parallel, delayed, Process, Random

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

namespace {

// The seed's estimate_circle(n), on block `stream`'s own random stream.
std::uint64_t estimate_circle(std::uint64_t n, std::uint64_t stream) {
  mp::Random rng(2024, stream);
  std::uint64_t inside = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    const double x = rng.uniform();
    const double y = rng.uniform();
    inside += (x * x + y * y < 1.0) ? 1 : 0;
  }
  return inside;
}

// The seed's calc_pi(samples): eight blocks of darts on all cores.
double calc_pi(std::uint64_t samples) {
  constexpr std::uint64_t kBlocks = 8;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> blocks;  // (darts, stream)
  for (std::uint64_t stream = 0; stream < kBlocks; ++stream) {
    blocks.emplace_back(samples / kBlocks, stream);
  }
  const auto inside = mp::Parallel(-1)(mp::delayed(estimate_circle).over(blocks));
  return 4.0 * static_cast<double>(std::accumulate(inside.begin(), inside.end(), 0ULL)) /
         static_cast<double>(samples / kBlocks * kBlocks);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// One call of the cached calc_pi, timed, saying whether it came from the cache.
double cached_pi(const std::string& dir, std::uint64_t samples, const char* who) {
  mp::Memory memory(dir);
  const auto calc = memory.cache(calc_pi, "calc_pi");
  const bool stored = calc.check_call_in_cache(samples);
  const auto start = std::chrono::steady_clock::now();
  const double pi = calc(samples);
  const double took = seconds_since(start);
  std::printf("%-30s pi = %.6f in %.0f us (%s)\n", who, pi, took * 1e6,
              stored ? "from the cache" : "computed, now stored");
  std::fflush(stdout);  // before a child process prints
  return pi;
}

// The same call in a process started from scratch.
void in_new_process(std::string dir, std::uint64_t samples, double expected) {
  const double pi = cached_pi(dir, samples, "a new process (spawn):");
  std::exit(pi == expected ? 0 : 1);
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);
  const auto samples = static_cast<std::uint64_t>(argc > 1 ? std::atof(argv[1]) : 1e8);
  const char* tmp = std::getenv("TMPDIR");
  const std::string dir =
      argc > 2 ? argv[2] : std::string(tmp != nullptr ? tmp : "/tmp") + "/mp-example-14-cache";
  std::printf("cache: %s\n", dir.c_str());
  const double pi = cached_pi(dir, samples, "this process, first call:");
  cached_pi(dir, samples, "this process, second call:");
  auto child = mp::get_context("spawn").process(in_new_process, dir, samples, pi);
  child.start();
  child.join();
  if (child.exitcode() != 0) {
    std::printf("the new process did not get the same pi\n");
    return 1;
  }
  return 0;
}
