// The interface between the pool front end and the workers that run its tasks.
//
// A WorkerGroup owns a fixed number of worker slots. The pool writes tasks into a slot,
// each under a tag it chooses; the group hands back results and worker exits through
// GroupEvents. A slot runs its tasks in the order written and answers them in that
// order, so the pool can keep one FIFO of outstanding tags per slot. When a worker dies,
// the group reports which tag it was running; tags queued behind it stay queued and are
// run by the replacement the pool asks for with respawn().
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "mp/detail/bytes.hpp"
#include "mp/errors.hpp"

namespace mp::backends {

struct WorkerExit {
  pid_t pid = 0;
  int wait_status = 0;            // as from waitpid
  std::uint64_t running_tag = 0;  // tag it was running when it died, 0 if none
  bool retired = false;           // left on purpose after maxtasksperchild tasks
  bool init_failed = false;       // its initializer threw
  // The running task will run again in the replacement, either whole (a crash retry) or
  // skipping the argument that crashed (reported in its results); it is not failed now.
  bool rerun = false;
  // The pool killed it (kill()) and the task it aimed at fails whole.
  bool killed = false;
  CrashCause cause = CrashCause::died;
  std::string init_error;
};

class GroupEvents {
 public:
  virtual void on_result(int slot, std::uint64_t tag, std::uint64_t elapsed_ns, bool ok,
                         detail::Reader& payload) = 0;
  virtual void on_exit(int slot, const WorkerExit& exit) = 0;
  // The worker of `slot` is writing a result with a block of `bytes` in it, for task
  // `tag`: a chance to prepare the memory it will be decoded into.
  virtual void on_result_coming(int /*slot*/, std::uint64_t /*tag*/, std::uint64_t /*bytes*/) {}

 protected:
  ~GroupEvents() = default;
};

class WorkerGroup {
 public:
  using Clock = std::chrono::steady_clock;
  virtual ~WorkerGroup() = default;

  virtual int size() const = 0;
  virtual pid_t pid(int slot) const = 0;
  virtual bool alive(int slot) const = 0;

  // True if a task of any size can be sent to `slot` without waiting.
  virtual bool has_room(int slot) const = 0;
  // Starts a task message; requires has_room(slot). While a very large message waits for
  // the worker, `events` keeps receiving results, so writing never deadlocks. `timeout`
  // (0: none) is the task's per-argument time limit: the pool enforces it through
  // running() and kill() while it is called, and the group may enforce it on its own
  // when it is not (a worker that stops itself is reported as kill() would be).
  virtual detail::Writer& begin_task(int slot, std::uint64_t tag, std::chrono::nanoseconds timeout,
                                     GroupEvents& events) = 0;
  virtual void commit_task(int slot) = 0;
  virtual void abort_task(int slot) noexcept = 0;

  // Delivers the results that are ready and the exits of workers found dead. Returns true
  // if it delivered anything.
  virtual bool poll(GroupEvents& events) = 0;
  // Sleeps until a result may be ready, a worker may have exited, or the deadline.
  // The group is used by one thread at a time (the pool's lock), but a sleep may go on
  // without that lock, so the pool's other threads can send meanwhile. It has three steps:
  //   prepare_sleep()      under the lock; false if something is ready (do not sleep);
  //   block_until(d)       without the lock; touches no slot state;
  //   finish_sleep()       under the lock, whether or not the sleep happened.
  // Only one thread may be between prepare_sleep() and finish_sleep() at a time.
  virtual bool prepare_sleep() = 0;
  virtual void block_until(Clock::time_point deadline) = 0;
  virtual void finish_sleep() = 0;
  // Wakes a thread blocked in block_until() (from any thread).
  virtual void wake_sleeper() noexcept = 0;
  // All three steps, with the lock held throughout.
  void sleep_until(Clock::time_point deadline) {
    if (prepare_sleep()) {
      block_until(deadline);
    }
    finish_sleep();
  }

  // The task a slot's worker is running now (0 tag: none), when it started, and the
  // argument of it being run (detail::ItemMonitor::kNone before the first argument,
  // kDone after the last).
  struct Running {
    std::uint64_t tag = 0;
    Clock::time_point since{};
    std::uint32_t item = UINT32_MAX;
  };
  virtual Running running(int slot) const = 0;
  // Kills the slot's worker (SIGKILL) because it ran argument `item` of task `tag` (as
  // running() said) too long; its exit is reported through on_exit as usual. If it was
  // still in that argument, the task runs again in the replacement, which reports the
  // argument as detail::kCauseKilledByPool; if it had moved on, the task just runs again;
  // if `item` is no argument (outside the arguments), the task fails (WorkerExit::killed).
  virtual void kill(int slot, std::uint64_t tag, std::uint32_t item) noexcept = 0;

  // Starts a worker in a slot whose worker has exited (reported through on_exit).
  virtual void respawn(int slot) = 0;
  // Asks every live worker to exit after the tasks already queued.
  virtual void stop_all() = 0;
  // Sends `signal` to every live worker.
  virtual void signal_all(int signal) noexcept = 0;
  // Waits for every worker to exit until the deadline; returns true if none is left.
  // Exits are reported through events.
  virtual bool wait_all_exited(GroupEvents& events, Clock::time_point deadline) = 0;
};

}  // namespace mp::backends
