// task_timeout enforced from inside the worker. The parent stops an argument that runs
// too long only while its caller is inside a Pool call (decision 0001: no library thread
// in the parent); a caller busy elsewhere would leave a stuck task running. The
// watchdog, a small thread started in the worker the first time a message carries a
// timeout, ends such a worker itself, a little after the parent would have, and leaves
// in the control block which argument it stopped; the pool then reports that argument
// as timed out, exactly as if it had stopped it.
#pragma once

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <cstdint>

#include "runtime/worker_region.hpp"

namespace mp::runtime {

class Watchdog {
 public:
  explicit Watchdog(WorkerControl& control) : control_(control) {}
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // The timeout of the message about to run (0: none). Starts the thread on first use;
  // if it cannot be started, the parent alone enforces timeouts, as before.
  void set_timeout(std::chrono::nanoseconds timeout) noexcept;

 private:
  static void* thread_main(void* self);
  [[noreturn]] void watch();

  WorkerControl& control_;
  std::atomic<std::int64_t> timeout_ns_{0};
  bool started_ = false;
  pthread_t thread_{};
};

}  // namespace mp::runtime
