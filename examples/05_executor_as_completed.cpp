// Seed 001's four task(idx, count) jobs on a ProcessPoolExecutor, taken as they complete.
//
// Python:  with ProcessPoolExecutor(max_workers=2) as ex:
//              futures = [ex.submit(task, i, count) for i in range(4)]
//              for f in as_completed(futures): print(f.result())
// C++:     mp::ProcessPoolExecutor ex(2);
//          for (auto& f : mp::as_completed(futures)) f.result();
//
// Each job reports the PID of the worker that ran it: two workers share four jobs. The
// results come in completion order; each is checked. Usage: 05_executor_as_completed [count]
#include <mp/mp.hpp>  // ProcessPoolExecutor, Future, as_completed

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <utility>
#include <vector>

namespace {

// The job's result and the worker it ran in. sum of i*i for i < count, modulo 2^64 (the
// seed's exact value needs 69 bits; wrapping keeps the check exact and the example short).
std::pair<std::uint64_t, int> task(int idx, std::uint64_t count) {
  std::uint64_t sum = 0;
  (void)idx;
  for (std::uint64_t i = 0; i < count; ++i) {
    sum += i * i;
  }
  return {sum, static_cast<int>(mp::current_process().pid())};
}

std::uint64_t expected(std::uint64_t n) {
  std::uint64_t sum = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    sum += i * i;
  }
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);
  const std::uint64_t count = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 10'000'000;
  mp::ProcessPoolExecutor ex(2);
  std::vector<mp::Future<std::pair<std::uint64_t, int>>> futures;
  for (int idx = 0; idx < 4; ++idx) {
    futures.push_back(ex.submit(task, idx, count));
  }
  const std::uint64_t want = expected(count);
  std::set<int> pids;
  int n = 0;
  for (const auto& f : mp::as_completed(futures)) {
    const auto [sum, pid] = f.result();
    std::printf("completed #%d: PID %d, result %llu%s\n", ++n, pid,
                static_cast<unsigned long long>(sum), sum == want ? "" : " WRONG");
    if (sum != want) {
      return 1;
    }
    pids.insert(pid);
  }
  std::printf("4 jobs on %zu worker process(es)\n", pids.size());
  return pids.size() <= 2 ? 0 : 1;
}
