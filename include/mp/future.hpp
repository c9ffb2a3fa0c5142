// mp::Future<T>: the result of an executor's submit (Python's concurrent.futures.Future),
// and the free functions mp::as_completed and mp::wait over futures of any executor.
//
//   mp::ProcessPoolExecutor ex(4);
//   mp::Future<int> f = ex.submit(square, 7);
//   f.result();                          // 49, waiting for it; rethrows the task's error
//   f.add_done_callback([](const mp::Future<int>& g) { ... });
//   for (auto& g : mp::as_completed(futures)) g.result();
//
// A Future is a handle: copies share one result. Every member may be called from any
// thread. A future outlives its executor: one whose task never ran because the executor
// was shut down with cancel_futures, or terminated, reports that (CancelledError,
// BrokenPool) instead of waiting.
#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "mp/detail/deadline.hpp"
#include "mp/detail/future_core.hpp"
#include "mp/detail/pull_range.hpp"
#include "mp/errors.hpp"

namespace mp {

// What mp::wait waits for (Python's FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED).
enum class ReturnWhen { FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED };

template <class T>
class Future {
 public:
  using value_type = T;
  using Clock = detail::FutureCore::Clock;

  // An empty handle (valid() is false); executors hand out real ones.
  Future() = default;
  explicit Future(std::shared_ptr<detail::FutureState<T>> s) : s_(std::move(s)) {}

  bool valid() const noexcept { return s_ != nullptr; }

  // Not yet started (pending), started and not finished (running), finished with a value
  // or an exception, or cancelled before it started.
  bool done() const { return state().done(); }
  bool running() const { return state().status() == detail::FutureCore::Status::running; }
  bool cancelled() const { return state().status() == detail::FutureCore::Status::cancelled; }
  // Cancels a task that has not started; returns whether the future is cancelled (true
  // also if it already was). A started or finished task is not affected (false).
  // Callbacks run as for any completion.
  bool cancel() { return state().cancel(); }

  // The value, waiting for it: rethrows the task's exception; throws mp::CancelledError
  // if it was cancelled.
  decltype(auto) result() const {
    state().wait_until(Clock::time_point::max());
    return value();
  }
  // As result(), but throws mp::TimeoutError if not done within `timeout` (a negative or
  // zero timeout: only if not done now).
  template <class Rep, class Period>
  decltype(auto) result(std::chrono::duration<Rep, Period> timeout) const {
    if (!state().wait_until(detail::deadline_after(timeout))) {
      detail::FutureCore::throw_timeout("Future::result");
    }
    return value();
  }
  // The task's exception, or null if it returned a value; waits for it. Throws
  // mp::CancelledError if cancelled.
  std::exception_ptr exception() const {
    state().wait_until(Clock::time_point::max());
    return error_of_done();
  }
  template <class Rep, class Period>
  std::exception_ptr exception(std::chrono::duration<Rep, Period> timeout) const {
    if (!state().wait_until(detail::deadline_after(timeout))) {
      detail::FutureCore::throw_timeout("Future::exception");
    }
    return error_of_done();
  }

  // Waits until done; with a timeout, returns done().
  void wait() const { state().wait_until(Clock::time_point::max()); }
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) const {
    return state().wait_until(detail::deadline_after(timeout));
  }

  // Python's AsyncResult names, so code written for Pool::apply_async reads the same.
  decltype(auto) get() const { return result(); }
  template <class Rep, class Period>
  decltype(auto) get(std::chrono::duration<Rep, Period> timeout) const {
    return result(timeout);
  }
  bool ready() const { return done(); }
  // Whether it finished without an exception. Throws std::logic_error if not done.
  bool successful() const {
    if (!done()) {
      throw std::logic_error("mp: Future::successful() called before the future is done");
    }
    return !cancelled() && state().exception_or_null() == nullptr;
  }

  // Calls fn(*this) (or fn()) once the future is done, on the thread that finished it, or
  // at once on this thread if it is done already. An exception from fn is reported on
  // stderr and ignored, as Python's concurrent.futures does.
  template <class Fn>
  void add_done_callback(Fn fn) const {
    Future self = *this;
    state().add_done_callback([self, fn = std::move(fn)]() mutable {
      if constexpr (std::is_invocable_v<Fn&, const Future&>) {
        fn(std::as_const(self));
      } else {
        fn();
      }
    });
  }

  detail::FutureCore& core() const { return state(); }
  bool operator==(const Future& other) const noexcept { return s_ == other.s_; }

 private:
  detail::FutureState<T>& state() const {
    if (!s_) {
      throw std::logic_error("mp: this Future has no shared state (default-constructed)");
    }
    return *s_;
  }
  std::exception_ptr error_of_done() const {
    if (cancelled()) {
      std::rethrow_exception(state().exception());
    }
    return state().exception();
  }
  decltype(auto) value() const {
    if (std::exception_ptr e = state().exception()) {
      std::rethrow_exception(e);
    }
    if constexpr (!std::is_void_v<T>) {
      return static_cast<const T&>(state().value());
    }
  }

  std::shared_ptr<detail::FutureState<T>> s_;
};

// The futures as they complete (Python's as_completed), each once, those already done
// first. An input range, consumed once; the futures may come from several executors.
// Iterating past `timeout` (measured from the call) throws mp::TimeoutError.
template <class T>
class AsCompleted : public detail::PullRange<AsCompleted<T>, Future<T>> {
 public:
  AsCompleted(std::vector<Future<T>> futures, detail::FutureCore::Clock::time_point deadline)
      : futures_(std::move(futures)),
        deadline_(deadline),
        order_(std::make_shared<detail::CompletionOrder>()) {
    for (std::size_t i = 0; i < futures_.size(); ++i) {
      futures_[i].core().add_watcher(order_, i);
    }
  }

  // The next future to complete, or std::nullopt when all were given.
  std::optional<Future<T>> next() {
    const std::optional<std::size_t> i = order_->next(deadline_, futures_.size() - given_);
    if (!i) {
      return std::nullopt;
    }
    ++given_;
    return futures_[*i];
  }

 private:
  std::vector<Future<T>> futures_;
  detail::FutureCore::Clock::time_point deadline_;
  std::shared_ptr<detail::CompletionOrder> order_;
  std::size_t given_ = 0;
};

template <class T>
AsCompleted<T> as_completed(std::vector<Future<T>> futures) {
  return AsCompleted<T>(std::move(futures), detail::FutureCore::Clock::time_point::max());
}
template <class T, class Rep, class Period>
AsCompleted<T> as_completed(std::vector<Future<T>> futures,
                            std::chrono::duration<Rep, Period> timeout) {
  return AsCompleted<T>(std::move(futures), detail::deadline_after(timeout));
}

// Python's wait(): the futures split into those done and those not, once `return_when`
// holds or the timeout passes (without a timeout: once it holds).
template <class T>
struct WaitResult {
  std::vector<Future<T>> done;
  std::vector<Future<T>> not_done;
};

namespace detail {
template <class T>
WaitResult<T> wait_futures(const std::vector<Future<T>>& futures,
                           FutureCore::Clock::time_point deadline, ReturnWhen when) {
  auto order = std::make_shared<CompletionOrder>();
  for (std::size_t i = 0; i < futures.size(); ++i) {
    futures[i].core().add_watcher(order, i);
  }
  std::size_t seen = 0;
  for (;;) {
    bool stop = seen == futures.size();
    if (!stop && seen > 0 && when == ReturnWhen::FIRST_COMPLETED) {
      stop = true;
    }
    if (!stop && when == ReturnWhen::FIRST_EXCEPTION && order->any_exception()) {
      stop = true;
    }
    if (stop) {
      break;
    }
    if (!order->next(deadline, futures.size() - seen, /*throw_on_timeout=*/false)) {
      break;
    }
    ++seen;
  }
  WaitResult<T> out;
  for (const auto& f : futures) {
    (f.done() ? out.done : out.not_done).push_back(f);
  }
  return out;
}
}  // namespace detail

template <class T>
WaitResult<T> wait(const std::vector<Future<T>>& futures,
                   ReturnWhen return_when = ReturnWhen::ALL_COMPLETED) {
  return detail::wait_futures(futures, detail::FutureCore::Clock::time_point::max(), return_when);
}
template <class T, class Rep, class Period>
WaitResult<T> wait(const std::vector<Future<T>>& futures,
                   std::chrono::duration<Rep, Period> timeout,
                   ReturnWhen return_when = ReturnWhen::ALL_COMPLETED) {
  return detail::wait_futures(futures, detail::deadline_after(timeout), return_when);
}

}  // namespace mp
