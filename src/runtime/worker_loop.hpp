// The worker side of a pool: run tasks from the task channel until told to stop.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

#include "mp/initializer.hpp"
#include "runtime/worker_region.hpp"

namespace mp::runtime {

struct WorkerConfig {
  int index = 0;
  std::string name;
  const Initializer* initializer = nullptr;
  int maxtasksperchild = 0;  // 0: no limit
  std::chrono::nanoseconds spin{0};
  pid_t parent = 0;
  // Address space the worker may map beyond what it inherits at start (0: no limit).
  std::size_t memory_limit = 0;
  // CPU time one task may use, in whole seconds (0: no limit).
  std::chrono::seconds cpu_time_limit{0};
  // Threads for nested parallel libraries (0: left alone); `inner_threads_forced`: even
  // where the environment already says (see PoolOptions::inner_max_num_threads).
  int inner_threads = 0;
  bool inner_threads_forced = false;
};

// Runs in the worker process; never returns.
[[noreturn]] void run_worker(WorkerRegion& region, const WorkerConfig& config);

}  // namespace mp::runtime
