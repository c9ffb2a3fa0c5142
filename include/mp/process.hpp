// mp::Process: run a function in a child process (Python's multiprocessing.Process).
//
//   void task(std::string name, long n);
//   mp::Process p(task, "first", 10'000'000);
//   p.start();
//   p.join();
//   p.exitcode();  // 0; 1 if task threw (see exception()); -9 if killed by SIGKILL
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "mp/detail/bound_call.hpp"
#include "mp/detail/deadline.hpp"
#include "mp/start_method.hpp"

namespace mp {

// Number of CPUs this process may run on (its affinity mask), at least 1.
int cpu_count();

// The running process as mp sees it: "MainProcess", a Process's name, or a pool
// worker's name ("PoolWorker-3").
class ProcessInfo {
 public:
  const std::string& name() const noexcept { return name_; }
  pid_t pid() const noexcept { return pid_; }

 private:
  friend ProcessInfo current_process();
  std::string name_;
  pid_t pid_ = 0;
};
ProcessInfo current_process();

class Process {
 public:
  // The target is called as target(args...) in the child, with copies of the arguments
  // taken now. With the fork start method (the default) the child is a fork of the
  // caller: it sees the parent's memory as of start(), and nothing it changes is visible
  // to the parent. With forkserver or spawn the target and its arguments are sent to the
  // child, so they must be sendable (include/mp/initializer.hpp says what is).
  template <class F, class... Args>
  explicit Process(F&& target, Args&&... args)
      : target_(bind(std::forward<F>(target), std::forward<Args>(args)...)) {
    init_name();
  }
  Process(Process&&) noexcept;
  Process& operator=(Process&&) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  // A running daemon process is killed; a running non-daemon process is waited for
  // (as Python waits for non-daemon children at exit). No zombie is left either way.
  ~Process();

  // Starts the child. Throws std::logic_error if already started, std::system_error if
  // fork fails.
  void start();
  // Waits for the child to exit. Throws std::logic_error if not started, and
  // mp::Interrupted if SIGINT or SIGTERM (left at their default action) arrives meanwhile;
  // the child is left running then (a Ctrl-C from the terminal reaches it by itself).
  void join();
  // Waits at most `timeout`; returns true if the child has exited. A zero or negative
  // timeout does not wait (as Python's join(-1)).
  template <class Rep, class Period>
  bool join(std::chrono::duration<Rep, Period> timeout) {
    return join_until(detail::deadline_after(timeout));
  }
  bool is_alive();
  // SIGTERM / SIGKILL to the child (no effect once it has exited).
  void terminate();
  void kill();

  // 0 before start().
  pid_t pid() const noexcept;
  // The exit code once the child has exited: its exit status, or -N if signal N killed
  // it (Python's convention). Empty while it runs or before start, and in one case after:
  // with forkserver, when the fork server was killed before it relayed the status and the
  // child ended by a signal or _exit (exception() then says the status is unknown). A
  // child that returned, threw or called exit() reports its exit code itself.
  std::optional<int> exitcode();
  const std::string& name() const noexcept { return name_; }
  void set_name(std::string name);
  bool daemon() const noexcept { return daemon_; }
  // Must be called before start(). A daemon child is killed when the parent exits.
  void set_daemon(bool daemon);
  StartMethod start_method() const noexcept { return start_method_; }
  // Must be called before start(); see include/mp/start_method.hpp. start() throws
  // std::invalid_argument if the method needs a sendable target and this one is not.
  void set_start_method(StartMethod method);
  // After the child exited: the exception that escaped its target, as mp::RemoteError
  // (type, message, pid); mp::WorkerCrashed (signal, pid) if a signal killed it, other
  // than the one terminate() or kill() sent; nullptr if it exited by itself (exitcode()
  // has its status) or was stopped on request.
  std::exception_ptr exception();

 private:
  struct State;
  struct StateDeleter {
    void operator()(State* s) const noexcept;
  };
  template <class F, class... Args>
  static detail::BoundCall bind(F&& target, Args&&... args) {
    using Fn = std::decay_t<F>;
    if constexpr (std::is_invocable_v<Fn&, detail::stored_arg_t<Args>...>) {
      return detail::BoundCall::bind(Fn(std::forward<F>(target)),
                                     detail::stored_arg_t<Args>(std::forward<Args>(args))...);
    } else {
      return detail::BoundCall::bind(Fn(std::forward<F>(target)),
                                     std::decay_t<Args>(std::forward<Args>(args))...);
    }
  }
  void init_name();
  // Waits until the child has exited or the deadline (time_point::max(): no limit).
  bool join_until(std::chrono::steady_clock::time_point deadline);
  bool wait_for_exit(std::chrono::steady_clock::time_point deadline);

  detail::BoundCall target_;
  std::string name_;
  bool daemon_ = false;
  StartMethod start_method_ = StartMethod::fork;
  std::unique_ptr<State, StateDeleter> state_;
};

}  // namespace mp
