// mp::Pool micro-benchmarks: apply round trip, map throughput, start-up, large payloads
// (steady and cold).
// The same-run peers these numbers are read against live in bench_peers.cpp.
//
// Everything that crosses a process boundary is timed in wall-clock time (UseRealTime):
// the CPU time of the calling thread misses the workers' share.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <numeric>
#include <vector>

#include "mp/detail/progress_reporter.hpp"
#include "mp/pool.hpp"
#include "mp/progress.hpp"

namespace {

constexpr int kWorkers = 2;
constexpr std::size_t kMapItems = 1'000'000;
constexpr std::size_t kPayloadBytes = std::size_t{200} << 20;  // 200 MiB

int add_one(int x) { return x + 1; }

std::size_t payload_size(const std::vector<std::uint8_t>& blob) {
  // Touch both ends so the argument must really have arrived.
  return blob.size() + (blob.front() == 0x5a && blob.back() == 0x5a ? 0 : 1);
}

std::vector<std::uint8_t> make_payload(std::size_t n) { return std::vector<std::uint8_t>(n, 0x5a); }

const std::vector<int>& map_input() {
  static const std::vector<int> input = [] {
    std::vector<int> v(kMapItems);
    std::iota(v.begin(), v.end(), 0);
    return v;
  }();
  return input;
}

// (a) pool.apply(f, int) round trip on a warm pool. BM_PoolApplyNoSpin is the same with
// PoolOptions::spin = 0 (sleep at once instead of spinning 50 us): a diagnostic for
// machines where the waiting side's spin competes with the side it waits for.
void run_apply(benchmark::State& state, mp::Pool& pool) {
  int x = 0;
  if (pool.apply(add_one, x) != 1) {
    state.SkipWithError("wrong result");
    return;
  }
  for (auto _ : state) {
    int y = pool.apply(add_one, x);
    benchmark::DoNotOptimize(y);
    if (y != x + 1) {
      state.SkipWithError("wrong result");
      break;
    }
    x = y & 0xffff;
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_PoolApply(benchmark::State& state) {
  mp::Pool pool(kWorkers);
  run_apply(state, pool);
}
BENCHMARK(BM_PoolApply)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_PoolApplyNoSpin(benchmark::State& state) {
  mp::PoolOptions options;
  options.processes = kWorkers;
  options.spin = std::chrono::microseconds(0);
  mp::Pool pool(options);
  run_apply(state, pool);
}
BENCHMARK(BM_PoolApplyNoSpin)->UseRealTime()->Unit(benchmark::kMicrosecond);

// (b) pool.map over 10^6 ints; Arg is the chunksize, 0 meaning the default (Python's rule:
// about four chunks per worker).
void BM_PoolMap(benchmark::State& state) {
  const auto chunksize = static_cast<long long>(state.range(0));
  const std::vector<int>& input = map_input();
  mp::Pool pool(kWorkers);
  for (auto _ : state) {
    std::vector<int> out =
        chunksize == 0 ? pool.map(add_one, input) : pool.map(add_one, input, chunksize);
    benchmark::DoNotOptimize(out.data());
    if (out.size() != input.size() || out.front() != 1 ||
        out.back() != static_cast<int>(kMapItems)) {
      state.SkipWithError("wrong result");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(input.size()));
}
BENCHMARK(BM_PoolMap)
    ->ArgName("chunksize")
    ->Arg(1)
    ->Arg(0)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// (b') BM_PoolMap's default-chunksize map with a progress display: log lines into
// /dev/null and a callback (Arg 1), or none (Arg 0), in one run; the display's cost is
// the difference.
void BM_PoolMapProgress(benchmark::State& state) {
  const bool shown = state.range(0) != 0;
  const std::vector<int>& input = map_input();
  const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  std::size_t calls = 0;
  const mp::Progress progress{.callback = [&calls](const mp::ProgressInfo&) { ++calls; },
                              .line_interval = std::chrono::milliseconds(100),
                              .fd = null};
  mp::Pool pool(kWorkers);
  for (auto _ : state) {
    std::vector<int> out = shown ? pool.map(add_one, input, progress) : pool.map(add_one, input);
    benchmark::DoNotOptimize(out.data());
    if (out.size() != input.size() || out.back() != static_cast<int>(kMapItems)) {
      state.SkipWithError("wrong result");
      break;
    }
  }
  ::close(null);
  if (shown && calls < static_cast<std::size_t>(state.iterations())) {
    state.SkipWithError("the progress callback was not called");
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(input.size()));
}
BENCHMARK(BM_PoolMapProgress)
    ->ArgName("progress")
    ->Arg(0)
    ->Arg(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// One redraw of a bar: the frame formatted and written (to /dev/null), the callback made.
void BM_ProgressRedraw(benchmark::State& state) {
  const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  std::size_t calls = 0;
  const mp::Progress progress{.callback = [&calls](const mp::ProgressInfo&) { ++calls; },
                              .label = "map",
                              .interval = std::chrono::milliseconds(0),
                              .line_interval = std::chrono::milliseconds(0),
                              .fd = null};
  mp::detail::ProgressReporter reporter(progress, 1'000'000);
  std::size_t done = 0;
  for (auto _ : state) {
    reporter.update(++done);
  }
  reporter.finish(done);
  ::close(null);
  if (calls < static_cast<std::size_t>(state.iterations())) {
    state.SkipWithError("not every update was drawn");
  }
}
BENCHMARK(BM_ProgressRedraw)->Unit(benchmark::kMicrosecond);

// What a map too short for a redraw pays for its display: the reporter made from the
// options, a poll, the final line written (to /dev/null) and the callback.
void BM_ProgressPerCall(benchmark::State& state) {
  const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  std::size_t calls = 0;
  const mp::Progress progress{
      .callback = [&calls](const mp::ProgressInfo&) { ++calls; }, .label = "map", .fd = null};
  for (auto _ : state) {
    mp::detail::ProgressReporter reporter(progress, 1'000'000);
    reporter.update(500'000);
    reporter.finish(1'000'000);
  }
  ::close(null);
  if (calls < static_cast<std::size_t>(state.iterations())) {
    state.SkipWithError("the final report was not made");
  }
}
BENCHMARK(BM_ProgressPerCall)->Unit(benchmark::kMicrosecond);

// (c) A pool's whole life: start the workers, first result, close, join; per start
// method (0 fork, 1 forkserver, 2 spawn), with the caller holding `ballast` MiB of touched
// memory (fork copies the caller's page tables; the fork server and spawn do not).
void BM_PoolStartup(benchmark::State& state) {
  const auto method = static_cast<mp::StartMethod>(state.range(0));
  std::vector<char> ballast(static_cast<std::size_t>(state.range(1)) << 20, 1);
  benchmark::DoNotOptimize(ballast.data());
  mp::PoolOptions options;
  options.processes = kWorkers;
  options.start_method = method;
  {
    mp::Pool warm(options);  // the fork server starts once per program, not per pool
  }
  for (auto _ : state) {
    mp::Pool pool(options);
    int y = pool.apply(add_one, 41);
    benchmark::DoNotOptimize(y);
    pool.close();
    pool.join();
    if (y != 42) {
      state.SkipWithError("wrong result");
      break;
    }
  }
}
BENCHMARK(BM_PoolStartup)
    ->ArgNames({"method", "ballast_mib"})
    ->ArgsProduct({{0, 1, 2}, {0, 256}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// (d) A 200 MiB argument or result through apply.
//   arg:        pool.apply(f, blob): encoded from the caller's vector, decoded in the
//               worker into storage it reuses from the previous task;
//   result:     pool.apply(make_payload, n), the worker builds and returns the 200 MiB.
//   result_kept: the worker returns a reference to a 200 MiB buffer it keeps, so only the
//               transport and the caller's fresh result vector are measured.
enum class Payload { kArg, kResult, kResultKept };

const std::vector<std::uint8_t>& kept_payload(std::size_t n) {
  static std::vector<std::uint8_t> kept;
  if (kept.size() != n) {
    kept = make_payload(n);
  }
  return kept;
}

void BM_PoolLargePayload(benchmark::State& state, Payload kind) {
  mp::Pool pool(kWorkers);
  std::vector<std::uint8_t> blob;
  if (kind != Payload::kResult) {
    blob = make_payload(kPayloadBytes);
  }
  // One untimed round first: the steady state is measured. The first 200 MiB message of a
  // pool also faults in its shared buffers, ~20 us per 4 KiB page on the VMs we use; the
  // cold figure is in BENCHMARKS.md.
  if (kind == Payload::kArg) {
    benchmark::DoNotOptimize(pool.apply(payload_size, blob));
  } else if (kind == Payload::kResult) {
    benchmark::DoNotOptimize(pool.apply(make_payload, kPayloadBytes).data());
  } else {
    benchmark::DoNotOptimize(pool.apply(kept_payload, kPayloadBytes).data());
  }
  for (auto _ : state) {
    bool ok = false;
    switch (kind) {
      case Payload::kArg: {
        std::size_t n = pool.apply(payload_size, blob);
        benchmark::DoNotOptimize(n);
        ok = n == kPayloadBytes;
        break;
      }
      case Payload::kResultKept: {
        std::vector<std::uint8_t> r = pool.apply(kept_payload, kPayloadBytes);
        benchmark::DoNotOptimize(r.data());
        ok = r.size() == kPayloadBytes && r.front() == 0x5a && r.back() == 0x5a;
        break;
      }
      case Payload::kResult: {
        std::vector<std::uint8_t> r = pool.apply(make_payload, kPayloadBytes);
        benchmark::DoNotOptimize(r.data());
        ok = r.size() == kPayloadBytes && r.front() == 0x5a && r.back() == 0x5a;
        break;
      }
    }
    if (!ok) {
      state.SkipWithError("wrong result");
      break;
    }
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(kPayloadBytes));
}
BENCHMARK_CAPTURE(BM_PoolLargePayload, arg, Payload::kArg)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_PoolLargePayload, result_kept, Payload::kResultKept)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_PoolLargePayload, result, Payload::kResult)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// (e) The same 200 MiB argument or kept result as the first large message of a new pool:
// its shared buffers are mapped for the first time. Only the message is timed; the pool
// (forked after the caller built the kept buffer, so its worker has it) is made and
// ended outside the timing.
void BM_PoolLargePayloadCold(benchmark::State& state, Payload kind) {
  const std::vector<std::uint8_t> blob = make_payload(kPayloadBytes);
  kept_payload(kPayloadBytes);
  bool ok = true;
  for (auto _ : state) {
    state.PauseTiming();
    auto pool = std::make_unique<mp::Pool>(kWorkers);
    ok = ok && pool->apply(add_one, 1) == 2;
    state.ResumeTiming();
    if (kind == Payload::kArg) {
      ok = ok && pool->apply(payload_size, blob) == kPayloadBytes;
    } else {
      std::vector<std::uint8_t> r = pool->apply(kept_payload, kPayloadBytes);
      ok = ok && r.size() == kPayloadBytes && r.front() == 0x5a && r.back() == 0x5a;
    }
    state.PauseTiming();
    pool.reset();
    state.ResumeTiming();
  }
  if (!ok) {
    state.SkipWithError("wrong result");
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(kPayloadBytes));
}
BENCHMARK_CAPTURE(BM_PoolLargePayloadCold, arg, Payload::kArg)
    ->UseRealTime()
    ->Iterations(5)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_PoolLargePayloadCold, result_kept, Payload::kResultKept)
    ->UseRealTime()
    ->Iterations(5)
    ->Unit(benchmark::kMillisecond);

}  // namespace
