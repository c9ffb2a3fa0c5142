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
  slots_ = std::make_unique<Slot[]>(static_cast<std::size_t>(threads));
  slot_count_ = threads;
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

bool ThreadEngine::hand_off(std::shared_ptr<FutureCore>& task) {
  // Starting from the thread that took the last hand-off: it is awake and its cache warm.
  const unsigned start = last_slot_.load(std::memory_order_relaxed);
  for (int i = 0; i < slot_count_; ++i) {
    const unsigned index = (start + static_cast<unsigned>(i)) % static_cast<unsigned>(slot_count_);
    Slot& slot = slots_[index];
    int looking = kLooking;
    if (slot.state.load(std::memory_order_relaxed) == kLooking &&
        slot.state.compare_exchange_strong(looking, kClaimed, std::memory_order_acquire)) {
      slot.task = std::move(task);
      slot.state.store(kHanded, std::memory_order_release);
      if (index != start) {
        last_slot_.store(index, std::memory_order_relaxed);
      }
      return true;
    }
  }
  return false;
}

std::shared_ptr<FutureCore> ThreadEngine::look_for_work(Slot& slot) {
  // Look for work a while before sleeping: a caller that submits again within the spin
  // is served without a wake-up (BENCHMARKS.md, executor.thread.submit).
  const auto spin_end = std::chrono::steady_clock::now() + spin_;
  slot.state.store(kLooking, std::memory_order_release);
  for (unsigned spins = 1;; ++spins) {
    if (slot.state.load(std::memory_order_acquire) != kLooking) {
      return take_handed(slot);
    }
    const bool queued = queued_.load(std::memory_order_acquire) != 0;
    if (queued || (spins % 64 == 0 && std::chrono::steady_clock::now() >= spin_end)) {
      // To the queue (or to sleep): no submit may claim the slot from here on.
      int looking = kLooking;
      if (!slot.state.compare_exchange_strong(looking, kBusy, std::memory_order_acquire)) {
        return take_handed(slot);  // claimed meanwhile
      }
      if (queued) {
        std::lock_guard l(m_);
        if (!queue_.empty() && !broken_) {
          std::shared_ptr<FutureCore> task = std::move(queue_.front());
          queue_.pop_front();
          queued_.store(queue_.size(), std::memory_order_release);
          return task;
        }
      }
      if (std::chrono::steady_clock::now() >= spin_end) {
        return nullptr;
      }
      slot.state.store(kLooking, std::memory_order_release);  // another thread took it
      continue;
    }
    if (spins % 64 == 0) {
      ::sched_yield();  // more spinners than cores: let a runnable peer have the core
    } else {
      sys::cpu_relax();
    }
  }
}

std::shared_ptr<FutureCore> ThreadEngine::take_handed(Slot& slot) {
  while (slot.state.load(std::memory_order_acquire) != kHanded) {
    sys::cpu_relax();  // a submit is between its claim and its store: a few instructions
  }
  std::shared_ptr<FutureCore> task = std::move(slot.task);
  slot.state.store(kBusy, std::memory_order_relaxed);
  return task;
}

void ThreadEngine::submit(std::shared_ptr<FutureCore> task) {
  // A looking thread takes the task without the lock; once the engine has closed
  // (shutdown, a failed initializer) the locked path below says why it refuses.
  if (open_.load(std::memory_order_acquire) && hand_off(task)) {
    return;
  }
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
    open_.store(false, std::memory_order_release);
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

void ThreadEngine::work(int index) {
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
          open_.store(false, std::memory_order_release);
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
          open_.store(false, std::memory_order_release);
        }
      }
      fail_queued(error);
      return;
    }
  }
  Slot& slot = slots_[static_cast<std::size_t>(index)];
  for (;;) {
    std::shared_ptr<FutureCore> task = look_for_work(slot);
    if (!task) {
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
