#include "mp/detail/thread_engine.hpp"

#include <sched.h>

#include <stdexcept>
#include <string>

#include "mp/errors.hpp"
#include "sys/futex.hpp"

namespace mp::detail {

ThreadEngine::ThreadEngine(int threads, std::function<void()> initializer,
                           std::chrono::microseconds spin)
    : initializer_(std::move(initializer)), spin_(spin) {
  if (threads < 1) {
    throw std::invalid_argument("mp: max_workers must be at least 1, not " +
                                std::to_string(threads));
  }
  threads_.reserve(static_cast<std::size_t>(threads));
  try {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this, i] { work(i); });
    }
  } catch (...) {
    shutdown(true, true);
    throw;
  }
}

ThreadEngine::~ThreadEngine() { shutdown(true, false); }

void ThreadEngine::submit(std::shared_ptr<FutureCore> task) {
  std::lock_guard l(m_);
  if (broken_) {
    std::rethrow_exception(broken_);
  }
  if (stopping_) {
    throw std::logic_error("mp: cannot submit after shutdown()");
  }
  queue_.push_back(std::move(task));
  queued_.store(queue_.size(), std::memory_order_release);
  if (sleeping_ > 0) {
    cv_.notify_one();
  }
}

bool ThreadEngine::stopped() const {
  std::lock_guard l(m_);
  return stopping_;
}

void ThreadEngine::shutdown(bool wait, bool cancel_pending) {
  std::deque<std::shared_ptr<FutureCore>> cancelled;
  {
    std::lock_guard l(m_);
    stopping_ = true;
    if (cancel_pending) {
      cancelled.swap(queue_);
      queued_.store(0, std::memory_order_release);
    }
    cv_.notify_all();
  }
  for (auto& t : cancelled) {
    t->cancel();
  }
  if (wait) {
    std::call_once(joined_, [this] {
      for (auto& t : threads_) {
        if (t.get_id() == std::this_thread::get_id()) {
          t.detach();  // shut down from one of its own tasks: it exits after this task
        } else if (t.joinable()) {
          t.join();
        }
      }
    });
  }
}

void ThreadEngine::fail_queued(const std::exception_ptr& error) {
  std::deque<std::shared_ptr<FutureCore>> failed;
  {
    std::lock_guard l(m_);
    failed.swap(queue_);
    queued_.store(0, std::memory_order_release);
  }
  for (auto& t : failed) {
    if (t->start()) {
      t->finish(error);
    }
  }
}

void ThreadEngine::work(int /*index*/) {
  if (initializer_) {
    try {
      initializer_();
    } catch (const std::exception& e) {
      auto error = std::make_exception_ptr(
          BrokenPool(std::string("mp: the thread pool's initializer failed: ") + e.what()));
      {
        std::lock_guard l(m_);
        if (!broken_) {
          broken_ = error;
        }
      }
      fail_queued(error);
      return;
    } catch (...) {
      auto error = std::make_exception_ptr(
          BrokenPool("mp: the thread pool's initializer failed with a non-standard exception"));
      {
        std::lock_guard l(m_);
        if (!broken_) {
          broken_ = error;
        }
      }
      fail_queued(error);
      return;
    }
  }
  for (;;) {
    // Look for work a while before sleeping: a caller that submits again within the spin
    // is served without a wake-up (BENCHMARKS.md, executor.thread.submit).
    const auto spin_end = std::chrono::steady_clock::now() + spin_;
    unsigned spins = 0;
    while (queued_.load(std::memory_order_acquire) == 0 &&
           std::chrono::steady_clock::now() < spin_end) {
      sys::cpu_relax();
      if (++spins % 64 == 0) {
        ::sched_yield();  // more spinners than cores: let a runnable peer have the core
      }
    }
    std::shared_ptr<FutureCore> task;
    {
      std::unique_lock l(m_);
      while (queue_.empty() || broken_) {
        if (stopping_ || broken_) {
          return;
        }
        ++sleeping_;
        cv_.wait(l);
        --sleeping_;
      }
      task = std::move(queue_.front());
      queue_.pop_front();
      queued_.store(queue_.size(), std::memory_order_release);
    }
    task->run();
  }
}

}  // namespace mp::detail
