// oneTBB peer: tbb::task_group. TBB's worker threads live on once started; mp-bench runs
// this peer after the process variants of its experiment.
#include "peers.hpp"
#include "workloads.hpp"

#ifdef MP_BENCH_HAVE_TBB
#include <tbb/task_arena.h>
#include <tbb/task_group.h>
#endif

namespace mp_bench::peers {

#ifdef MP_BENCH_HAVE_TBB
bool have_tbb() { return true; }

RoundTrips tbb_task_group(int n, int workers) {
  RoundTrips out;
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
  return out;
}
#else
bool have_tbb() { return false; }
RoundTrips tbb_task_group(int /*n*/, int /*workers*/) { return {}; }
#endif

}  // namespace mp_bench::peers
