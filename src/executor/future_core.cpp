#include "mp/detail/future_core.hpp"

#include <stdexcept>
#include <string>

#include "mp/detail/pool_core.hpp"  // report_callback_error
#include "mp/errors.hpp"
#include "sys/futex.hpp"

namespace mp::detail {
namespace {
// A waiter looks this long before it sleeps: a task of a few microseconds on a thread
// that is awake finishes within it, and a sleeping waiter costs a wake-up of 20-50 us on
// these machines (BENCHMARKS.md, executor rows).
constexpr auto kSpin = std::chrono::microseconds(20);
}  // namespace

void CompletionOrder::push(std::size_t index, bool failed) {
  std::lock_guard l(m_);
  ready_.push_back(index);
  failed_ = failed_ || failed;
  cv_.notify_all();
}

std::optional<std::size_t> CompletionOrder::next(Clock::time_point deadline, std::size_t remaining,
                                                 bool throw_on_timeout) {
  if (remaining == 0) {
    return std::nullopt;
  }
  std::unique_lock l(m_);
  auto has = [this] { return !ready_.empty(); };
  if (deadline == Clock::time_point::max()) {
    cv_.wait(l, has);
  } else if (!cv_.wait_until(l, deadline, has)) {
    if (throw_on_timeout) {
      throw TimeoutError("mp: as_completed: " + std::to_string(remaining) +
                         " future(s) not done when the timeout ran out");
    }
    return std::nullopt;
  }
  const std::size_t i = ready_.front();
  ready_.pop_front();
  return i;
}

bool CompletionOrder::any_exception() const {
  std::lock_guard l(m_);
  return failed_;
}

bool FutureCore::wait_until(Clock::time_point deadline) {
  if (done()) {
    return true;
  }
  if (run_here() && done()) {
    return true;
  }
  drive_until(deadline);
  const auto spin_end = std::min(deadline, Clock::now() + kSpin);
  for (unsigned spins = 1; !done(); ++spins) {
    if (spins % 64 == 0 && Clock::now() >= spin_end) {
      break;
    }
    sys::cpu_relax();
  }
  if (done()) {
    return true;
  }
  std::unique_lock l(m_);
  ++sleepers_;
  if (deadline == Clock::time_point::max()) {
    cv_.wait(l, [this] { return done(); });
  } else {
    cv_.wait_until(l, deadline, [this] { return done(); });
  }
  --sleepers_;
  return done();
}

bool FutureCore::start() noexcept {
  Status expected = Status::pending;
  return status_.compare_exchange_strong(expected, Status::running, std::memory_order_acq_rel);
}

bool FutureCore::cancel() {
  Status expected = Status::pending;
  if (status_.load(std::memory_order_acquire) == Status::cancelled) {
    return true;
  }
  {
    std::lock_guard l(m_);
    if (!status_.compare_exchange_strong(expected, Status::cancelled, std::memory_order_acq_rel)) {
      return expected == Status::cancelled;
    }
  }
  complete(Status::cancelled, nullptr);
  return true;
}

void FutureCore::finish(std::exception_ptr error) noexcept {
  complete(Status::finished, std::move(error));
}

void FutureCore::complete(Status final, std::exception_ptr error) noexcept {
  std::vector<std::function<void()>> callbacks;
  {
    std::lock_guard l(m_);
    const Status now = status_.load(std::memory_order_relaxed);
    if (final == Status::finished) {
      if (now == Status::cancelled || now == Status::finished) {
        return;  // cancelled before it started: the task's outcome is moot
      }
      error_ = std::move(error);
      status_.store(Status::finished, std::memory_order_release);
    }
    callbacks.swap(callbacks_);
    if (sleepers_ > 0) {
      cv_.notify_all();
    }
  }
  for (auto& fn : callbacks) {
    try {
      fn();
    } catch (...) {
      report_callback_error(std::current_exception());
    }
  }
}

void FutureCore::add_done_callback(std::function<void()> fn) {
  {
    std::lock_guard l(m_);
    if (!done()) {
      callbacks_.push_back(std::move(fn));
      return;
    }
  }
  try {
    fn();
  } catch (...) {
    report_callback_error(std::current_exception());
  }
}

void FutureCore::add_watcher(const std::shared_ptr<CompletionOrder>& order, std::size_t index) {
  add_done_callback([this, order, index] {
    order->push(index, status() == Status::finished && error_ != nullptr);
  });
}

std::exception_ptr FutureCore::exception() const {
  if (status() == Status::cancelled) {
    return std::make_exception_ptr(CancelledError("mp: the future was cancelled"));
  }
  return error_;
}

void FutureCore::throw_timeout(const char* what) {
  throw TimeoutError(std::string("mp: ") + what + ": the future was not done in time");
}

}  // namespace mp::detail
