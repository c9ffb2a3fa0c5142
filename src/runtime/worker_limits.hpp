// A worker's resource limits (PoolOptions::memory_limit, cpu_time_limit): set once at
// start, and the CPU-time limit moved before each task.
#pragma once

#include <chrono>

#include "runtime/worker_loop.hpp"
#include "runtime/worker_region.hpp"

namespace mp::runtime {

// In a new worker, before its initializer: the memory limit (with an out-of-memory handler
// that marks `control` and ends the worker) and, with a CPU-time limit, no core dumps.
void apply_worker_limits(const WorkerConfig& config, WorkerControl& control);

// Moves the soft CPU-time limit to `seconds` past what the worker used so far; the kernel
// sends SIGXCPU when a task passes it.
void limit_cpu_for_next_task(std::chrono::seconds seconds);

}  // namespace mp::runtime
