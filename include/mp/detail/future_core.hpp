// The shared state behind mp::Future, independent of the executor that fills it. An
// executor derives from FutureState<T>: it calls start() when the task begins (false:
// the future was cancelled first, so the task must not run), then set_value() and
// finish(). A waiting thread may drive the executor (drive_until: a process pool
// collects its results on the waiting thread) or run a pending task itself (run_here).
// Not part of the public API.
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
#include <optional>
#include <vector>

namespace mp::detail {

// The order in which watched futures complete (as_completed, wait).
class CompletionOrder {
 public:
  using Clock = std::chrono::steady_clock;
  // Called once per future, by the thread that completed it.
  void push(std::size_t index, bool failed);
  // The next completed index; std::nullopt if `remaining` is 0, or at the deadline when
  // not `throw_on_timeout` (else mp::TimeoutError).
  std::optional<std::size_t> next(Clock::time_point deadline, std::size_t remaining,
                                  bool throw_on_timeout = true);
  bool any_exception() const;

 private:
  mutable std::mutex m_;
  std::condition_variable cv_;
  std::deque<std::size_t> ready_;
  bool failed_ = false;
};

class FutureCore {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Status : int { pending, running, finished, cancelled };

  FutureCore() = default;
  FutureCore(const FutureCore&) = delete;
  FutureCore& operator=(const FutureCore&) = delete;
  virtual ~FutureCore() = default;

  Status status() const noexcept { return status_.load(std::memory_order_acquire); }
  bool done() const noexcept {
    const Status s = status();
    return s == Status::finished || s == Status::cancelled;
  }
  // Waits until done or the deadline; returns done().
  bool wait_until(Clock::time_point deadline);
  // pending -> cancelled (callbacks run); true if cancelled now or before.
  bool cancel();
  // Runs fn once done: now, on this thread, if it is already.
  void add_done_callback(std::function<void()> fn);
  void add_watcher(const std::shared_ptr<CompletionOrder>& order, std::size_t index);
  // After done(): what result() throws (CancelledError if cancelled), or null.
  std::exception_ptr exception() const;
  std::exception_ptr exception_or_null() const noexcept { return error_; }

  [[noreturn]] static void throw_timeout(const char* what);

  // Executor side. pending -> running; false if the future was cancelled (or started).
  bool start() noexcept;
  // -> finished with `error` (null: the value was set); wakes waiters, runs callbacks.
  // Ignored if the future was cancelled.
  void finish(std::exception_ptr error) noexcept;
  // A thread executor's task: start(), run, set the value, finish().
  virtual void run() noexcept {}

 protected:
  // Lets the waiting thread make the result come (a process pool collects results on it).
  virtual void drive_until(Clock::time_point /*deadline*/) {}
  // Runs the pending task on the waiting thread instead of waiting for a worker; true if
  // it did.
  virtual bool run_here() { return false; }

 private:
  void complete(Status final, std::exception_ptr error) noexcept;

  mutable std::mutex m_;
  std::condition_variable cv_;
  std::atomic<Status> status_{Status::pending};
  int sleepers_ = 0;
  std::exception_ptr error_;
  std::vector<std::function<void()>> callbacks_;
};

template <class T>
class FutureState : public FutureCore {
 public:
  const T& value() const { return *value_; }
  // Before finish(nullptr).
  template <class V>
  void set_value(V&& v) {
    value_.emplace(std::forward<V>(v));
  }

 private:
  std::optional<T> value_;
};

template <>
class FutureState<void> : public FutureCore {};

}  // namespace mp::detail
