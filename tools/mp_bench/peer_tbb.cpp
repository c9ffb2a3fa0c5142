// oneTBB peer: tbb::task_group. TBB's worker threads would live on once started, and a
// Pool does not fork a process that has other threads, so the scheduler is finalized
// after each run.
#include "peers.hpp"
#include "workloads.hpp"

#ifdef MP_BENCH_HAVE_TBB
#include <tbb/global_control.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include <new>
#endif

namespace mp_bench::peers {

#ifdef MP_BENCH_HAVE_TBB
bool have_tbb() { return true; }

namespace {
void run_in_arena(RoundTrips& out, int n, int workers) {
  tbb::task_arena arena(workers);
  arena.execute([&] {
    tbb::task_group group;
    int x = 0;
    bool ok = true;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) {
      int y = 0;
      group.run([x, &y] { y = add_one(x); });
      group.wait();
      ok = ok && y == x + 1;
      x = y & 0xffff;
    }
    const double t =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    out.seconds = t / n;
    out.ok = ok;
  });
}
}  // namespace

RoundTrips tbb_task_group(int n, int workers) {
  RoundTrips out;
  tbb::task_scheduler_handle scheduler{tbb::attach{}};
  run_in_arena(out, n, workers);
  out.ok = out.ok && tbb::finalize(scheduler, std::nothrow);
  return out;
}
#else
bool have_tbb() { return false; }
RoundTrips tbb_task_group(int /*n*/, int /*workers*/) { return {}; }
#endif

}  // namespace mp_bench::peers
