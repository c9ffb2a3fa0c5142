// What fault handling costs: recovering from a crashed worker, and the timeout machinery
// on the happy path. Peers in the same run: BM_ForkWait (bench_peers.cpp) for the fork a
// replacement needs, and BM_PoolMap without a timeout (bench_pool.cpp).
#include <benchmark/benchmark.h>
#include <signal.h>

#include <chrono>
#include <cstdint>
#include <numeric>
#include <vector>

#include "mp/errors.hpp"
#include "mp/pool.hpp"

namespace {

int add_one(int x) { return x + 1; }

int die(int) {
  ::raise(SIGKILL);
  return 0;
}

// From a task whose worker is SIGKILLed to the replacement's first answer: the crash is
// noticed (pidfd), the task fails with WorkerCrashed, a replacement is forked and runs the
// next task. One worker, so the next task must wait for the replacement. Per start
// method (0 fork, 1 forkserver, 2 spawn): how the replacement is started.
void BM_CrashRecovery(benchmark::State& state) {
  mp::PoolOptions options;
  options.processes = 1;
  options.start_method = static_cast<mp::StartMethod>(state.range(0));
  mp::Pool pool(options);
  for (auto _ : state) {
    bool crashed = false;
    try {
      pool.apply(die, 0);
    } catch (const mp::WorkerCrashed&) {
      crashed = true;
    }
    const int y = pool.apply(add_one, 1);
    if (!crashed || y != 2) {
      state.SkipWithError("crash not reported, or no answer after it");
      break;
    }
  }
}
BENCHMARK(BM_CrashRecovery)
    ->ArgName("method")
    ->DenseRange(0, 2)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// map of add_one over 10^6 ints on 2 workers with PoolOptions::task_timeout off (0) or
// on (1: ten seconds, never reached), chunksize 1 or the default (0).
void BM_PoolMapTimeout(benchmark::State& state) {
  const auto chunksize = static_cast<long long>(state.range(0));
  const bool timeout = state.range(1) != 0;
  std::vector<int> input(1'000'000);
  std::iota(input.begin(), input.end(), 0);
  mp::PoolOptions options;
  options.processes = 2;
  if (timeout) {
    options.task_timeout = std::chrono::seconds(10);
  }
  mp::Pool pool(options);
  for (auto _ : state) {
    std::vector<int> out =
        chunksize == 0 ? pool.map(add_one, input) : pool.map(add_one, input, chunksize);
    benchmark::DoNotOptimize(out.data());
    if (out.size() != input.size() || out.back() != static_cast<int>(input.size())) {
      state.SkipWithError("wrong result");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(input.size()));
}
BENCHMARK(BM_PoolMapTimeout)
    ->ArgNames({"chunksize", "timeout"})
    ->ArgsProduct({{1, 0}, {0, 1}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
