// The worker threads behind ThreadPoolExecutor and ThreadPool: a FIFO of tasks (future
// states whose run() does the work) and threads that take them in order. A thread that
// finishes a task looks for the next one for a while before it sleeps, so a steady stream
// of small tasks is handed over without waking anyone. Not part of the public API.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "mp/detail/future_core.hpp"

namespace mp::detail {

class ThreadEngine {
 public:
  // `threads` workers (at least 1); `initializer` (may be empty) runs once in each before
  // its first task: if it throws, the engine is broken and every task not yet run fails
  // with mp::BrokenPool naming the error.
  ThreadEngine(int threads, std::function<void()> initializer, std::chrono::microseconds spin);
  ~ThreadEngine();
  ThreadEngine(const ThreadEngine&) = delete;
  ThreadEngine& operator=(const ThreadEngine&) = delete;

  int size() const noexcept { return static_cast<int>(threads_.size()); }
  // Queues a task. Throws std::logic_error after shutdown, or the BrokenPool error.
  void submit(std::shared_ptr<FutureCore> task);
  // No more tasks; cancel_pending cancels those not started. With `wait`, returns once
  // every thread has finished its last task and exited.
  void shutdown(bool wait, bool cancel_pending);
  bool stopped() const;

 private:
  void work(int index);
  void fail_queued(const std::exception_ptr& error);

  mutable std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<FutureCore>> queue_;
  std::atomic<std::size_t> queued_{0};  // queue_.size(), read by spinning threads unlocked
  int sleeping_ = 0;
  bool stopping_ = false;
  std::exception_ptr broken_;
  std::function<void()> initializer_;
  std::chrono::microseconds spin_;
  std::vector<std::thread> threads_;
  std::once_flag joined_;
};

}  // namespace mp::detail
