// What the pool asks of its process backend, and the one way to make it: the pool sees a
// WorkerGroup, not the processes, channels and shared memory behind it.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include "backends/worker_group.hpp"
#include "mp/initializer.hpp"
#include "mp/start_method.hpp"

namespace mp::backends {

struct ProcessGroupOptions {
  int processes = 1;
  StartMethod start_method = StartMethod::fork;
  Initializer initializer;
  int maxtasksperchild = 0;
  int crash_retries = 0;
  std::size_t memory_limit = 0;
  std::chrono::seconds cpu_time_limit{0};
  std::chrono::nanoseconds spin{0};
  int inner_threads = 0;  // see runtime::WorkerConfig
  bool inner_threads_forced = false;
};

// Starts all workers; throws std::system_error if one cannot be started (the ones
// already started are stopped and reaped first), std::invalid_argument if the start
// method needs a sendable initializer and it is not.
std::unique_ptr<WorkerGroup> make_process_group(ProcessGroupOptions options);

// A program started by spawn (or the fork server) that did not call mp::init becomes the
// process it was started as here. Called on the thread that creates the pool, before
// make_process_group is called on another.
void enter_child_role_if_requested();

}  // namespace mp::backends
