// The micro-benchmarks' main: mp::init first, so that a copy of this program started by
// exec (a spawned worker, the fork server) becomes that process instead of benchmarking.
#include <benchmark/benchmark.h>

#include <mp/start_method.hpp>

int main(int argc, char** argv) {
  mp::init(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
    return 1;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
