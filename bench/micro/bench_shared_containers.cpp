// SharedDict and SharedList calls in one process (the lock uncontended): the cost of a
// call itself, to set beside a Python Manager proxy's round trip (BENCHMARKS.md).
#include <benchmark/benchmark.h>

#include <mp/shared_containers.hpp>
#include <optional>
#include <string>

namespace {

void BM_SharedDictUpdate(benchmark::State& state) {
  mp::SharedDict<std::string, long> d;
  const std::string keys[4] = {"alpha", "beta", "gamma", "delta"};
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        d.update(keys[i++ % 4], [](std::optional<long> n) { return n.value_or(0) + 1; }));
  }
}
BENCHMARK(BM_SharedDictUpdate);

void BM_SharedDictGet(benchmark::State& state) {
  mp::SharedDict<std::string, long> d;
  for (long k = 0; k < 1000; ++k) d.set("key" + std::to_string(k), k);
  long k = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(d.get("key" + std::to_string(k++ % 1000)));
  }
}
BENCHMARK(BM_SharedDictGet);

void BM_SharedListAppend(benchmark::State& state) {
  mp::SharedList<long> l(std::size_t{256} << 20);
  long v = 0;
  for (auto _ : state) {
    l.append(v++);
    if (l.size() > 100000) {
      state.PauseTiming();
      l.clear();
      state.ResumeTiming();
    }
  }
}
BENCHMARK(BM_SharedListAppend);

}  // namespace
