// Worker slots backed by forked processes and shared-memory channels.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backends/process_group_options.hpp"
#include "backends/worker_group.hpp"
#include "process/launcher.hpp"
#include "runtime/worker_region.hpp"
#include "sys/shared_memory.hpp"
#include "sys/unique_fd.hpp"
#include "transport/channel.hpp"

namespace mp::backends {

class ProcessGroup final : public WorkerGroup {
 public:
  // See make_process_group().
  explicit ProcessGroup(ProcessGroupOptions options);
  ~ProcessGroup() override;

  int size() const override { return static_cast<int>(slots_.size()); }
  pid_t pid(int slot) const override;
  bool alive(int slot) const override;
  bool has_room(int slot) const override;
  detail::Writer& begin_task(int slot, std::uint64_t tag, std::chrono::nanoseconds timeout,
                             GroupEvents& events) override;
  void commit_task(int slot) override;
  void abort_task(int slot) noexcept override;
  bool poll(GroupEvents& events) override;
  bool prepare_sleep() override;
  void block_until(Clock::time_point deadline) override;
  void finish_sleep() override;
  void wake_sleeper() noexcept override;
  Running running(int slot) const override;
  void kill(int slot, std::uint64_t tag, std::uint32_t item) noexcept override;
  void respawn(int slot) override;
  void stop_all() override;
  void signal_all(int signal) noexcept override;
  bool wait_all_exited(GroupEvents& events, Clock::time_point deadline) override;

 private:
  struct Slot;
  class SendWait;

  // check_threads: warn if other threads of the program run (see choose_launcher).
  void spawn(int slot, bool check_threads);
  // The launcher for a new worker: null to fork it from this process.
  process::Launcher* choose_launcher(bool check_threads);
  // Waits for the exit of a worker sent SIGKILL, and forgets it.
  // True if the worker is known to be gone (reaped here, or by its launcher).
  bool kill_and_reap(Slot& s) noexcept;
  bool drain_results(Slot& s, GroupEvents& events);
  // Waits up to timeout_ms (0: just looks, -1: no limit) for the doorbell or a worker's
  // exit; reaps exited workers into exited_.
  void collect_exits(int timeout_ms);
  void report_exit(int slot, GroupEvents& events);

  ProcessGroupOptions options_;
  sys::SharedMemory bell_memory_;  // the parent's Doorbell, shared with every worker
  sys::Doorbell* parent_bell_;
  sys::UniqueFd eventfd_;
  sys::UniqueFd epoll_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<int> exited_;  // slots whose worker exited, not yet reported
  // Set by block_until() when a worker's pidfd became readable: the next poll() reaps at
  // once instead of at its next periodic look.
  std::atomic<bool> exit_seen_{false};
  Clock::time_point last_exit_check_{};
  std::unique_ptr<SendWait> send_wait_;
  pid_t parent_pid_;
};

}  // namespace mp::backends
