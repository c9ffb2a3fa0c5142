#include "mp/process.hpp"

#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <typeinfo>

#include "mp/errors.hpp"
#include "process/child.hpp"
#include "process/current.hpp"
#include "sys/demangle.hpp"
#include "sys/interrupt.hpp"
#include "sys/unique_fd.hpp"

namespace mp {
namespace {

std::atomic<int> g_process_counter{0};
std::string g_process_name = "MainProcess";

// Exit code as Python reports it.
int exitcode_of(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  if (WIFSIGNALED(status)) {
    return -WTERMSIG(status);
  }
  return 0;
}

}  // namespace

namespace process {
void set_current_process_name(std::string name) { g_process_name = std::move(name); }
}  // namespace process

int cpu_count() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) {
      return n;
    }
  }
  const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : 1;
}

ProcessInfo current_process() {
  ProcessInfo info;
  info.name_ = g_process_name;
  info.pid_ = ::getpid();
  return info;
}

struct Process::State {
  pid_t pid = 0;
  sys::UniqueFd pidfd;
  sys::UniqueFd error_pipe;  // the child writes the escaped exception here
  std::optional<int> status;
  std::exception_ptr error;
  int signal_sent = 0;  // by terminate() or kill(): a death the caller asked for
};

void Process::StateDeleter::operator()(State* s) const noexcept { delete s; }

void Process::init_name() { name_ = "Process-" + std::to_string(++g_process_counter); }

Process::Process(Process&&) noexcept = default;
Process& Process::operator=(Process&&) noexcept = default;

Process::~Process() {
  if (!state_ || state_->status) {
    return;
  }
  try {
    if (daemon_) {
      kill();
    }
    join();
  } catch (...) {
    ::kill(state_->pid, SIGKILL);
    ::waitpid(state_->pid, nullptr, 0);
  }
}

void Process::set_name(std::string name) { name_ = std::move(name); }

void Process::set_daemon(bool daemon) {
  if (state_) {
    throw std::logic_error("mp: set_daemon() after start()");
  }
  daemon_ = daemon;
}

void Process::start() {
  if (state_) {
    throw std::logic_error("mp: a process can only be started once");
  }
  std::unique_ptr<State, StateDeleter> state(new State);
  sys::PipeFds pipe = sys::make_pipe();
  const int error_fd = pipe.write.get();
  std::function<void()>& target = target_;
  const std::string& name = name_;
  state->pid = process::fork_child(name_, daemon_, [&target, &name, error_fd] {
    try {
      target();
    } catch (const std::exception& e) {
      const std::string type = sys::demangle(typeid(e).name());
      const std::string msg = std::string(type) + '\0' + e.what();
      sys::write_full(error_fd, msg.data(), msg.size());
      std::fprintf(stderr, "Process %s:\n%s: %s\n", name.c_str(), type.c_str(), e.what());
      process::exit_child(1);
    } catch (...) {
      const std::string msg = std::string("unknown exception") + '\0';
      sys::write_full(error_fd, msg.data(), msg.size());
      std::fprintf(stderr, "Process %s: unknown exception\n", name.c_str());
      process::exit_child(1);
    }
  });
  pipe.write.reset();
  state->error_pipe = std::move(pipe.read);
  state->pidfd = sys::open_pidfd(state->pid);
  state_ = std::move(state);
}

// Polls the pidfd in slices, so that a SIGINT or SIGTERM delivered to another thread is
// still seen within one slice (one delivered to this thread ends the poll at once).
bool Process::wait_for_exit(std::chrono::nanoseconds timeout) {
  using Clock = std::chrono::steady_clock;
  constexpr auto kSlice = std::chrono::milliseconds(20);
  if (timeout.count() == 0) {
    return sys::wait_readable(state_->pidfd.get(), 0);
  }
  const auto deadline = timeout.count() < 0 ? Clock::time_point::max() : Clock::now() + timeout;
  sys::InterruptWatch watch;
  for (;;) {
    const auto now = Clock::now();
    const auto slice = std::min<Clock::duration>(kSlice, deadline - now);
    const int slice_ms = static_cast<int>(
        std::max<long long>(std::chrono::ceil<std::chrono::milliseconds>(slice).count(), 0));
    if (sys::poll_readable(state_->pidfd.get(), slice_ms)) {
      return true;
    }
    if (const int sig = sys::InterruptWatch::take(); sig != 0) {
      throw Interrupted(sig, "while the caller waited in Process::join for " + name_ + " (pid " +
                                 std::to_string(state_->pid) + ", still running)");
    }
    if (Clock::now() >= deadline) {
      return false;
    }
  }
}

bool Process::join_for(std::chrono::nanoseconds timeout) {
  if (!state_) {
    throw std::logic_error("mp: can only join a started process");
  }
  if (state_->status) {
    return true;
  }
  if (!wait_for_exit(timeout)) {
    return false;
  }
  int status = 0;
  pid_t r = 0;
  while ((r = ::waitpid(state_->pid, &status, 0)) < 0 && errno == EINTR) {
  }
  if (r != state_->pid) {
    sys::throw_errno("waitpid");
  }
  state_->status = exitcode_of(status);
  state_->pidfd.reset();
  std::string msg(4096, '\0');
  const std::size_t n = sys::read_full(state_->error_pipe.get(), msg.data(), msg.size());
  state_->error_pipe.reset();
  if (n > 0) {
    msg.resize(n);
    const auto sep = msg.find('\0');
    std::string type = msg.substr(0, sep);
    std::string what = sep == std::string::npos ? std::string() : msg.substr(sep + 1);
    state_->error =
        std::make_exception_ptr(RemoteError(std::move(type), std::move(what), state_->pid, 0));
  } else if (WIFSIGNALED(status) && WTERMSIG(status) != state_->signal_sent) {
    state_->error = std::make_exception_ptr(WorkerCrashed(state_->pid, status, 0));
  }
  return true;
}

void Process::join() { join_for(std::chrono::nanoseconds(-1)); }

bool Process::is_alive() {
  if (!state_ || state_->status) {
    return false;
  }
  return !join_for(std::chrono::nanoseconds(0));
}

void Process::terminate() {
  if (state_ && !state_->status) {
    state_->signal_sent = SIGTERM;
    ::kill(state_->pid, SIGTERM);
  }
}

void Process::kill() {
  if (state_ && !state_->status) {
    state_->signal_sent = SIGKILL;
    ::kill(state_->pid, SIGKILL);
  }
}

pid_t Process::pid() const noexcept { return state_ ? state_->pid : 0; }

std::optional<int> Process::exitcode() {
  if (!state_) {
    return std::nullopt;
  }
  if (!state_->status) {
    join_for(std::chrono::nanoseconds(0));
  }
  return state_->status;
}

std::exception_ptr Process::exception() {
  exitcode();
  return state_ ? state_->error : nullptr;
}

}  // namespace mp
