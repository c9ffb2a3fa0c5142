#include "runtime/worker_watchdog.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "mp/detail/kernels.hpp"

namespace mp::runtime {
namespace {

constexpr std::int64_t kMinLookNs = 1'000'000;  // 1 ms, as the parent's finest look
constexpr std::size_t kStackBytes = 64 * 1024;  // it only reads atomics and sleeps

// The clock the worker stamps running_since_ns with (steady_clock is CLOCK_MONOTONIC,
// the same in every process).
std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void Watchdog::set_timeout(std::chrono::nanoseconds timeout) noexcept {
  timeout_ns_.store(timeout.count(), std::memory_order_relaxed);
  if (started_ || timeout.count() <= 0) {
    return;
  }
  started_ = true;
  pthread_attr_t attr;
  ::pthread_attr_init(&attr);
  // A small stack: a worker under memory_limit counts every thread's stack.
  ::pthread_attr_setstacksize(&attr, kStackBytes);
  // Signals stay with the worker's own thread.
  sigset_t all;
  sigset_t previous;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &previous);
  if (::pthread_create(&thread_, &attr, &Watchdog::thread_main, this) == 0) {
    ::pthread_detach(thread_);
  }
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  ::pthread_attr_destroy(&attr);
}

void* Watchdog::thread_main(void* self) { static_cast<Watchdog*>(self)->watch(); }

// As the parent does (decision 0004): the first argument of a message is timed from the
// message's start, a later one from when it was first seen. The worker is ended after
// the timeout plus one look, so that a parent inside a Pool call acts first.
void Watchdog::watch() {
  std::uint64_t seen_tag = 0;
  std::uint32_t seen_item = detail::ItemMonitor::kNone;
  std::int64_t since = 0;
  for (;;) {
    const std::int64_t timeout = timeout_ns_.load(std::memory_order_relaxed);
    const std::int64_t look = std::max(timeout / 10, kMinLookNs);
    std::this_thread::sleep_for(std::chrono::nanoseconds(look));
    const std::uint64_t tag = control_.running_task.load(std::memory_order_acquire);
    const std::uint32_t item = control_.running_item.load(std::memory_order_relaxed);
    const std::int64_t now = now_ns();
    if (tag == 0 || timeout <= 0 || item >= detail::ItemMonitor::kDone) {
      seen_tag = 0;
      continue;
    }
    if (tag != seen_tag || item != seen_item) {
      const bool message_start =
          tag != seen_tag && (item == 0 || item == detail::ItemMonitor::kNone);
      since = message_start ? control_.running_since_ns.load(std::memory_order_relaxed) : now;
      seen_tag = tag;
      seen_item = item;
    }
    if (now - since >= timeout + look) {
      control_.self_stopped_item.store(item, std::memory_order_relaxed);
      control_.self_stopped_task.store(tag, std::memory_order_release);
      ::kill(::getpid(), SIGKILL);
    }
  }
}

}  // namespace mp::runtime
