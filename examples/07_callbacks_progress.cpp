// Callbacks while the program does something else: Python's apply_async(callback=...).
//
// Python:  pool.apply_async(work, (i,), callback=done, error_callback=failed)
// C++:     pool.apply_async(work, i, mp::callbacks(done, failed));
//
// The main thread submits every task and then only sleeps and prints a progress count
// that the callbacks update: the pool's own thread collects results and runs them, no
// Pool call needed. One task fails on purpose and reaches error_callback.
// Usage: 07_callbacks_progress [tasks = 200]
#include <mp/mp.hpp>  // Pool, callbacks

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <thread>

namespace {

int work(int i) {
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (i == 13) {
    throw std::runtime_error("task 13 fails on purpose");
  }
  return i * i;
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);
  const int tasks = argc > 1 ? std::atoi(argv[1]) : 200;
  std::atomic<int> done{0};
  std::atomic<int> failed{0};
  std::atomic<long> sum{0};
  mp::Pool pool;
  for (int i = 0; i < tasks; ++i) {
    pool.apply_async(work, i,
                     mp::callbacks(
                         [&](int square) {
                           sum += square;
                           ++done;
                         },
                         [&](std::exception_ptr e) {
                           try {
                             std::rethrow_exception(e);
                           } catch (const std::exception& ex) {
                             std::printf("error_callback: %s\n", ex.what());
                           }
                           ++failed;
                         }));
  }
  // No Pool call from here on.
  const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (done + failed < tasks && std::chrono::steady_clock::now() < limit) {
    std::printf("progress: %d of %d\n", done + failed, tasks);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  long want = 0;
  for (int i = 0; i < tasks; ++i) {
    want += i == 13 ? 0 : static_cast<long>(i) * i;
  }
  std::printf("done: %d values, %d error(s), sum of squares %ld%s\n", done.load(), failed.load(),
              sum.load(), sum == want ? "" : " WRONG");
  const int fails = tasks > 13 ? 1 : 0;
  return done == tasks - fails && failed == fails && sum == want ? 0 : 1;
}
