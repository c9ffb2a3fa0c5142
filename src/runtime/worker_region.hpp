// The memory a pool shares with one worker process: a control block, the task channel
// (parent -> worker) and the result channel (worker -> parent), each with its large-message
// buffer. Created by the parent before the worker is forked, and kept across respawns: a
// replacement worker picks up the tasks still queued for its slot.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "sys/doorbell.hpp"
#include "sys/shared_memory.hpp"
#include "transport/channel.hpp"

namespace mp::runtime {

enum FrameKind : std::uint32_t {
  kTaskFrame = 1,    // payload: TaskHeader, trampoline id, callable, arguments
  kStopFrame = 2,    // poison pill: the worker exits
  kResultFrame = 3,  // payload: ResultHeader, then results or an encoded error
};

struct TaskHeader {
  std::int64_t timeout_ns;  // per-argument task_timeout (0: none)
};

struct ResultHeader {
  std::uint64_t elapsed_ns;  // time the worker spent running the task
  std::uint8_t status;       // kResultOk or kResultError
};
inline constexpr std::uint8_t kResultOk = 0;
inline constexpr std::uint8_t kResultError = 1;
inline constexpr std::size_t kResultHeaderBytes = 9;  // packed: elapsed_ns, status

enum WorkerState : std::uint32_t {
  kWorkerRetired = 1,      // left after maxtasksperchild tasks
  kWorkerInitFailed = 2,   // the initializer threw; init_error says why
  kWorkerReady = 4,        // initialized: from here on, a death is a task's crash
  kWorkerOutOfMemory = 8,  // an allocation failed under the memory limit; it exited
};

struct WorkerControl {
  transport::ChannelControl tasks;
  transport::ChannelControl results;
  alignas(64) sys::Doorbell worker_bell;  // the worker sleeps here
  // Tag of the task the worker runs now (0: none), so a crash names its task.
  alignas(64) std::atomic<std::uint64_t> running_task{0};
  // When the running task started, in CLOCK_MONOTONIC nanoseconds (the same clock in
  // every process), so the parent can enforce a per-task timeout.
  std::atomic<std::int64_t> running_since_ns{0};
  std::atomic<std::uint32_t> state{0};
  // The argument of the running task being run (ItemMonitor::kNone outside arguments).
  std::atomic<std::uint32_t> running_item{UINT32_MAX};
  // The task and argument the worker's watchdog stopped it in, for running past
  // task_timeout (0: none); see worker_watchdog.hpp.
  std::atomic<std::uint64_t> self_stopped_task{0};
  std::atomic<std::uint32_t> self_stopped_item{0};
  // Arguments of task `skip_tag` that crashed a worker: the replacement skips them.
  static constexpr std::uint32_t kMaxSkips = 16;
  std::uint64_t skip_tag = 0;
  std::uint32_t skip_count = 0;
  std::uint32_t skip_items[kMaxSkips];
  std::int32_t skip_pid[kMaxSkips];
  std::int32_t skip_status[kMaxSkips];
  std::int32_t skip_cause[kMaxSkips];  // mp::CrashCause
  char init_error[2048];
};

class WorkerRegion {
 public:
  // `parent_bell` is the pool-wide doorbell the parent sleeps on.
  explicit WorkerRegion(sys::Doorbell* parent_bell);
  // The same region in a worker that did not inherit the mappings (fork server, spawn):
  // from the memfds of fds().
  struct Fds {
    int shared = -1;
    int task_large = -1;
    int result_large = -1;
  };
  WorkerRegion(const Fds& fds, sys::Doorbell* parent_bell);
  Fds fds() const { return {shared_.fd(), task_large_.fd(), result_large_.fd()}; }
  // In the worker, which needs the mappings only: a task that closes descriptors or opens
  // files at their numbers then cannot reach what the pool uses.
  void close_descriptors() noexcept;

  WorkerControl& control() const { return *reinterpret_cast<WorkerControl*>(shared_.data()); }
  transport::ChannelMemory task_channel();
  transport::ChannelMemory result_channel();
  // Empties both channels and clears the control block's worker state.
  void reset_results_and_state() noexcept;
  // Readies a region whose pool has ended, none of whose workers lives, for another pool
  // that sleeps on `parent_bell`: as new, except that the pages it keeps are made.
  void reuse(sys::Doorbell* parent_bell) noexcept;
  // Returns what a spare region need not hold: the large buffers' pages, and the rings'
  // beyond their start.
  void trim() noexcept;

 private:
  sys::SharedMemory shared_;  // WorkerControl, then the two rings
  sys::SharedMemory task_large_;
  sys::SharedMemory result_large_;
  sys::Doorbell* parent_bell_;
};

// Regions of ended pools, kept for the next pool of this process that forks its workers:
// making a region costs three memory files, their mappings and fresh pages, a sixth of a
// pool's start-up (BENCHMARKS.md). A few are kept, trimmed and without descriptors (a
// worker forked from this process inherits the mappings; one started by the fork server
// or spawn needs descriptors, and gets a new region). A child forked meanwhile never
// takes one.
// A spare region, ready for a pool that sleeps on `parent_bell`, or nullptr.
std::unique_ptr<WorkerRegion> take_spare_region(sys::Doorbell* parent_bell);
// Keeps `region` once none of its workers lives (or lets it go if enough are kept).
void keep_spare_region(std::unique_ptr<WorkerRegion> region) noexcept;

}  // namespace mp::runtime
