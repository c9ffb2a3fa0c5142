// Constructors of the public exceptions (include/mp/errors.hpp). Every module may throw
// them, so they depend on nothing of mp but their header.
#include <sys/wait.h>

#include <csignal>
#include <cstring>
#include <string>

#include "mp/errors.hpp"

namespace mp {
namespace {

std::string remote_message(const std::string& type, const std::string& message, pid_t pid,
                           std::uint64_t index) {
  return "task " + std::to_string(index) + " raised " + type + " in worker pid " +
         std::to_string(pid) + ": " + message;
}

std::string crash_message(pid_t pid, int status, std::uint64_t index, CrashCause cause) {
  std::string how;
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* abbrev = sigabbrev_np(sig);
    how = "was killed by signal " + std::to_string(sig) + " (SIG" +
          (abbrev != nullptr ? abbrev : "?") + ")";
  } else if (WIFEXITED(status)) {
    how = "exited with status " + std::to_string(WEXITSTATUS(status));
  } else {
    how = "stopped";
  }
  std::string why;
  if (cause == CrashCause::memory_limit) {
    why = " (an allocation failed under the pool's memory_limit)";
  } else if (cause == CrashCause::cpu_time_limit) {
    why = " (the task used up the pool's cpu_time_limit)";
  }
  return "mp: worker pid " + std::to_string(pid) + " " + how + " while running task " +
         std::to_string(index) + why;
}

}  // namespace

RemoteError::RemoteError(std::string type, std::string message, pid_t pid, std::uint64_t task_index)
    : Error(remote_message(type, message, pid, task_index)),
      type_(std::move(type)),
      message_(std::move(message)),
      pid_(pid),
      task_index_(task_index) {}

WorkerCrashed::WorkerCrashed(pid_t pid, int wait_status, std::uint64_t task_index, CrashCause cause)
    : Error(crash_message(pid, wait_status, task_index, cause)),
      pid_(pid),
      signal_(WIFSIGNALED(wait_status) ? WTERMSIG(wait_status) : 0),
      exitcode_(WIFSIGNALED(wait_status) ? -WTERMSIG(wait_status)
                                         : (WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : 0)),
      task_index_(task_index),
      cause_(cause) {}

Interrupted::Interrupted(int signal, const std::string& context)
    : std::runtime_error(std::string("mp: SIG") +
                         (sigabbrev_np(signal) != nullptr ? sigabbrev_np(signal) : "?") +
                         " arrived " + context),
      signal_(signal) {}

}  // namespace mp
