// Thread peers: a minimal mutex + condition-variable pool (what a C++ programmer writes
// first) and std::async.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "peers.hpp"
#include "workloads.hpp"

namespace mp_bench::peers {

namespace {

class ThreadPool {
 public:
  explicit ThreadPool(int threads) {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this] { run(); });
    }
  }
  ~ThreadPool() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) {
      t.join();
    }
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  template <class F>
  auto submit(F f) -> std::future<decltype(f())> {
    auto task = std::make_shared<std::packaged_task<decltype(f())()>>(std::move(f));
    auto result = task->get_future();
    {
      std::lock_guard lock(mutex_);
      queue_.emplace_back([task] { (*task)(); });
    }
    cv_.notify_one();
    return result;
  }

 private:
  void run() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) {
          return;
        }
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

template <class F>
RoundTrips round_trips(int n, F call) {
  int x = 0;
  bool ok = true;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    const int y = call(x);
    ok = ok && y == x + 1;
    x = y & 0xffff;
  }
  const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {t / n, ok};
}

}  // namespace

RoundTrips thread_pool(int n, int workers) {
  ThreadPool pool(workers);
  pool.submit([] { return 0; }).get();  // the threads are up
  return round_trips(n, [&pool](int x) { return pool.submit([x] { return add_one(x); }).get(); });
}

RoundTrips std_async(int n) {
  return round_trips(n, [](int x) { return std::async(std::launch::async, add_one, x).get(); });
}

}  // namespace mp_bench::peers
