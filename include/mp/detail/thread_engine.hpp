// The worker threads behind ThreadPoolExecutor and ThreadPool: a FIFO of tasks (future
// states whose run() does the work) and threads that take them in order. A thread that
// finishes a task looks for the next one for a while before it sleeps, so a steady stream
// of small tasks is handed over without waking anyone; a submit that finds such a thread
// hands the task to it directly, through the thread's own slot, without the queue's lock
// (one cache line moves instead of the queue's several). Not part of the public API.
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
#include <tuple>
#include <type_traits>
#include <vector>

#include "mp/detail/future_core.hpp"
#include "mp/future.hpp"

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
  // A thread's hand-off slot. kBusy: not looking (running a task, or asleep); kLooking:
  // spinning for work, a submit may claim it; kClaimed: a submit is storing its task;
  // kHanded: the task is there for the thread to take.
  enum : int { kBusy, kLooking, kClaimed, kHanded };
  struct alignas(64) Slot {
    std::atomic<int> state{kBusy};
    std::shared_ptr<FutureCore> task;
  };

  void work(int index);
  bool hand_off(std::shared_ptr<FutureCore>& task);
  // Spins for work: a task handed to the slot or queued; null once the spin has passed.
  std::shared_ptr<FutureCore> look_for_work(Slot& slot);
  // The task a kHanded (or soon kHanded) slot holds; leaves the slot kBusy.
  std::shared_ptr<FutureCore> take_handed(Slot& slot);
  void fail_queued(const std::exception_ptr& error);

  mutable std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<FutureCore>> queue_;
  std::atomic<std::size_t> queued_{0};  // queue_.size(), read by spinning threads unlocked
  int sleeping_ = 0;
  bool stopping_ = false;
  std::exception_ptr broken_;
  std::atomic<bool> open_{true};  // neither stopping_ nor broken_, readable without m_
  std::function<void()> initializer_;
  std::chrono::microseconds spin_;
  std::unique_ptr<Slot[]> slots_;
  int slot_count_ = 0;
  std::atomic<unsigned> last_slot_{0};
  std::vector<std::thread> threads_;
  std::once_flag joined_;
};

// A task run by a thread: f(args...) into the future.
template <class T, class Fn, class Tuple>
class ThreadTask final : public FutureState<T> {
 public:
  ThreadTask(Fn fn, Tuple args) : fn_(std::move(fn)), args_(std::move(args)) {}
  void run() noexcept override {
    if (!this->start()) {
      return;  // cancelled
    }
    std::exception_ptr error;
    try {
      if constexpr (std::is_void_v<T>) {
        std::apply(fn_, std::move(args_));
      } else {
        this->set_value(std::apply(fn_, std::move(args_)));
      }
    } catch (...) {
      error = std::current_exception();
    }
    // Outside the handler, and moved: once the future has the exception, this thread
    // holds no reference that could be the last (see ThreadMapJoin).
    this->finish(std::move(error));
  }

 private:
  Fn fn_;
  Tuple args_;
};

// f(args...) as a task on `engine` (copies of f and of the arguments), and its future.
template <class F, class... Args>
auto submit_thread_task(ThreadEngine& engine, F&& f, Args&&... args) {
  using Fn = std::decay_t<F>;
  using Tuple = std::tuple<std::decay_t<Args>...>;
  using R = std::decay_t<decltype(std::apply(std::declval<Fn&>(), std::declval<Tuple&&>()))>;
  auto task = std::make_shared<ThreadTask<R, Fn, Tuple>>(Fn(std::forward<F>(f)),
                                                         Tuple(std::forward<Args>(args)...));
  engine.submit(task);
  return Future<R>(std::move(task));
}

}  // namespace mp::detail
