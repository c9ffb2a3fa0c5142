#include "runtime/worker_limits.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <new>

#include "process/child.hpp"

namespace mp::runtime {
namespace {

// The worker's control block, for the out-of-memory handler.
WorkerControl* g_control = nullptr;

// operator new failed under the memory limit: the worker says so and leaves, so the task
// fails as a crash with its cause instead of as a bad_alloc from a damaged heap.
void on_out_of_memory() {
  if (g_control != nullptr) {
    g_control->state.fetch_or(kWorkerOutOfMemory, std::memory_order_release);
  }
  static const char msg[] = "mp: worker out of memory under the pool's memory_limit\n";
  (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
  ::_exit(1);
}

std::size_t address_space_in_use() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0;
  statm >> pages;
  return pages * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

void limit_memory(std::size_t extra) {
  const std::size_t in_use = address_space_in_use();
  const auto limit = static_cast<rlim_t>(extra > SIZE_MAX - in_use ? SIZE_MAX : in_use + extra);
  const rlimit lim{limit, limit};
  if (::setrlimit(RLIMIT_AS, &lim) != 0) {
    std::perror("mp: setrlimit(RLIMIT_AS)");
    process::exit_child(1);
  }
  std::set_new_handler(on_out_of_memory);
}

}  // namespace

void limit_cpu_for_next_task(std::chrono::seconds seconds) {
  rusage use{};
  ::getrusage(RUSAGE_SELF, &use);
  const double used = static_cast<double>(use.ru_utime.tv_sec + use.ru_stime.tv_sec) +
                      static_cast<double>(use.ru_utime.tv_usec + use.ru_stime.tv_usec) / 1e6;
  rlimit lim{};
  ::getrlimit(RLIMIT_CPU, &lim);
  lim.rlim_cur = static_cast<rlim_t>(std::ceil(used + static_cast<double>(seconds.count())));
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_cur > lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
  }
  ::setrlimit(RLIMIT_CPU, &lim);
}

void apply_worker_limits(const WorkerConfig& config, WorkerControl& control) {
  g_control = &control;
  if (config.memory_limit > 0) {
    limit_memory(config.memory_limit);
  }
  if (config.cpu_time_limit.count() > 0) {
    // SIGXCPU's default action dumps core; a task over its limit is not a bug to debug.
    const rlimit no_core{0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);
  }
}

}  // namespace mp::runtime
