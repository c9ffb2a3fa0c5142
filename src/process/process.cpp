#include "mp/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <typeinfo>
#include <vector>

#include "mp/detail/codec.hpp"
#include "mp/detail/shared_block.hpp"
#include "mp/errors.hpp"
#include "process/child.hpp"
#include "process/current.hpp"
#include "process/launcher.hpp"
#include "process/process_boot.hpp"
#include "shm/fd_refs.hpp"
#include "sys/demangle.hpp"
#include "sys/fork_private_fds.hpp"
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

namespace {

// The most the child writes to its report pipe: well under a pipe's capacity, so the
// write never waits for a reader (the parent reads only after the child has exited).
constexpr std::size_t kReportLimit = 4096;

// What the child tells the parent on its report pipe just before it exits, one record:
//   'E' type NUL message   the target threw (cut at kReportLimit); the child exits 1
//   'X' int32 code         the target returned (0) or called exit(code)
// The parent has the wait status for that, except when the fork server that started the
// child died before relaying it: the record is then how the parent still knows the exit.
constexpr char kThrewRecord = 'E';
constexpr char kExitRecord = 'X';

struct ExitReport {
  int fd = -1;
  pid_t child = 0;  // a process the target forks inherits the handler, and must not report
};
ExitReport g_exit_report;

void write_exit_record(int code) noexcept {
  char record[1 + sizeof(std::int32_t)] = {kExitRecord};
  const auto c = static_cast<std::int32_t>(code);
  std::memcpy(record + 1, &c, sizeof c);
  sys::write_full(g_exit_report.fd, record, sizeof record);
}

void report_exit_call(int status, void*) {
  if (::getpid() == g_exit_report.child) {
    write_exit_record(status);
  }
}

// Runs a Process's target in the child. An exception that escapes it is written to
// `report_fd` for the parent's exception(), and printed whole as Python prints it; the
// child then exits with status 1.
[[noreturn]] void run_target(const detail::BoundCall& target, const std::string& name,
                             int report_fd) {
  g_exit_report = {report_fd, ::getpid()};
  ::on_exit(&report_exit_call, nullptr);
  try {
    target();
  } catch (const std::exception& e) {
    const std::string type = sys::demangle(typeid(e).name());
    std::string msg = kThrewRecord + std::string(type) + '\0' + e.what();
    msg.resize(std::min(msg.size(), kReportLimit));
    sys::write_full(report_fd, msg.data(), msg.size());
    std::fprintf(stderr, "Process %s:\n%s: %s\n", name.c_str(), type.c_str(), e.what());
    process::exit_child(1);
  } catch (...) {
    const std::string msg = kThrewRecord + std::string("unknown exception") + '\0';
    sys::write_full(report_fd, msg.data(), msg.size());
    std::fprintf(stderr, "Process %s: unknown exception\n", name.c_str());
    process::exit_child(1);
  }
  write_exit_record(0);
  process::exit_child(0);
}

// Once per process: fork from a caller with other threads is reported.
void warn_threads_once(int threads, const char* what) {
  static std::atomic<bool> warned{false};
  if (!warned.exchange(true)) {
    std::fprintf(stderr, "mp: this process has %d threads; %s\n", threads, what);
  }
}

}  // namespace

namespace process {
namespace {
// A Process started by the fork server or spawn.
void run_process_role(const ChildBoot& boot) {
  ProcessBoot fields = decode_process_boot(boot.blob);
  // Passed open across exec; programs the target runs must not inherit it.
  ::fcntl(fields.report_fd, F_SETFD, FD_CLOEXEC);
  if (fields.daemon) {
    die_with_parent(boot.parent);
  }
  set_current_process_name(fields.name);
  run_target(detail::BoundCall::from_encoded(std::move(fields.target)), fields.name,
             fields.report_fd);
}

const bool g_registered = register_child_role("process", &run_process_role);
}  // namespace
}  // namespace process

struct Process::State {
  pid_t pid = 0;
  sys::UniqueFd pidfd;
  process::Launcher* launcher = nullptr;  // null: forked by this process
  sys::UniqueFd error_pipe;               // the child writes its exit report here
  bool exited = false;
  std::optional<int> status;  // empty after the exit if nobody can tell it (see join_until)
  std::exception_ptr error;
  int signal_sent = 0;  // by terminate() or kill(): a death the caller asked for
};

void Process::StateDeleter::operator()(State* s) const noexcept { delete s; }

void Process::init_name() { name_ = "Process-" + std::to_string(++g_process_counter); }

Process::Process(Process&&) noexcept = default;
Process& Process::operator=(Process&&) noexcept = default;

Process::~Process() {
  if (!state_ || state_->exited) {
    return;
  }
  try {
    if (daemon_) {
      kill();
    }
    join();
  } catch (...) {
    sys::pidfd_signal(state_->pidfd.get(), SIGKILL);
    if (state_->launcher != nullptr) {
      state_->launcher->reap(state_->pid);
    } else {
      ::waitpid(state_->pid, nullptr, 0);
    }
  }
}

void Process::set_start_method(StartMethod method) {
  if (state_) {
    throw std::logic_error("mp: set_start_method() after start()");
  }
  start_method_ = method;
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
  // A program that did not call mp::init becomes a spawned Process here, if it is one.
  process::enter_child_role_if_requested();
  process::Launcher* launcher = nullptr;
  if (start_method_ == StartMethod::spawn) {
    launcher = &process::spawn_launcher();
  } else if (start_method_ == StartMethod::forkserver) {
    launcher = &process::fork_server();
  } else if (const int threads = process::user_thread_count(); threads > 1) {
    // A fork copies only the calling thread; a lock another thread holds stays locked in
    // the child. Forked all the same, as Python does: the child must be the program the
    // user forked (decision 0006).
    warn_threads_once(threads,
                      "a Process is forked while other threads run: a lock one of them holds "
                      "stays locked in the child. Start processes before threads, or choose "
                      "StartMethod::forkserver or spawn.");
  }
  if (launcher != nullptr && !target_.sendable()) {
    throw std::invalid_argument(
        "mp: with start method " + std::string(to_string(start_method_)) + " the target of " +
        name_ +
        " and its arguments must be sendable to a process that does not share this "
        "one's memory (a function, a lambda capturing only trivially copyable values, a function "
        "object with a cereal serialize(); arguments of types mp can send)");
  }
  std::unique_ptr<State, StateDeleter> state(new State);
  sys::PipeFds pipe = sys::make_pipe();
  const int error_fd = pipe.write.get();
  if (launcher == nullptr) {
    const detail::BoundCall& target = target_;
    const std::string& name = name_;
    // The child holds the fork-private descriptors of what its arguments hold, and no other.
    const std::optional<std::vector<int>> keep = shm::fds_to_keep_in_fork(&target_);
    state->pid = process::fork_child(name_, daemon_, [&target, &name, error_fd, &keep] {
      if (keep) {
        sys::release_fork_private_fds_in_child(*keep);
      }
      run_target(target, name, error_fd);
    });
    state->pidfd = process::pidfd_or_kill(state->pid);
  } else {
    process::LaunchSpec spec;
    spec.role = "process";
    spec.fds = {error_fd};
    spec.die_with_caller = daemon_;
    // Shared objects among the arguments hand their descriptors to the child.
    detail::FdCapture shared_objects;
    spec.blob = process::encode_process_boot({name_, daemon_, error_fd, target_.encoded()});
    spec.fds.insert(spec.fds.end(), shared_objects.fds().begin(), shared_objects.fds().end());
    process::Launched started = launcher->launch(spec);
    state->pid = started.pid;
    state->pidfd = std::move(started.pidfd);
  }
  state->launcher = launcher;
  pipe.write.reset();
  state->error_pipe = std::move(pipe.read);
  state_ = std::move(state);
}

// Polls the pidfd in slices, so that a SIGINT or SIGTERM delivered to another thread is
// still seen within one slice (one delivered to this thread ends the poll at once).
bool Process::wait_for_exit(std::chrono::steady_clock::time_point deadline) {
  using Clock = std::chrono::steady_clock;
  constexpr auto kSlice = std::chrono::milliseconds(20);
  if (deadline <= Clock::now()) {
    return sys::wait_readable(state_->pidfd.get(), 0);
  }
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

bool Process::join_until(std::chrono::steady_clock::time_point deadline) {
  if (!state_) {
    throw std::logic_error("mp: can only join a started process");
  }
  if (state_->exited) {
    return true;
  }
  if (!wait_for_exit(deadline)) {
    return false;
  }
  int status = 0;
  if (state_->launcher != nullptr) {
    // Started by the fork server: the server reaps it and relays its status.
    status = state_->launcher->reap(state_->pid);
  } else {
    pid_t r = 0;
    while ((r = ::waitpid(state_->pid, &status, 0)) < 0 && errno == EINTR) {
    }
    if (r != state_->pid) {
      sys::throw_errno("waitpid");
    }
  }
  state_->exited = true;
  state_->pidfd.reset();
  // The child has written all it will; a process it started may still hold the pipe open,
  // so read what is there without waiting for the end.
  ::fcntl(state_->error_pipe.get(), F_SETFL, O_NONBLOCK);
  std::string msg(kReportLimit, '\0');
  msg.resize(sys::read_full(state_->error_pipe.get(), msg.data(), msg.size()));
  state_->error_pipe.reset();
  const bool known = status != process::kStatusUnknown;
  if (!msg.empty() && msg[0] == kThrewRecord) {
    const auto sep = msg.find('\0');
    std::string type = msg.substr(1, sep - 1);
    std::string what = sep == std::string::npos ? std::string() : msg.substr(sep + 1);
    state_->error =
        std::make_exception_ptr(RemoteError(std::move(type), std::move(what), state_->pid, 0));
    state_->status = known ? exitcode_of(status) : 1;
  } else if (known) {
    state_->status = exitcode_of(status);
    if (WIFSIGNALED(status) && WTERMSIG(status) != state_->signal_sent) {
      state_->error = std::make_exception_ptr(WorkerCrashed(state_->pid, status, 0));
    }
  } else if (msg.size() == 1 + sizeof(std::int32_t) && msg[0] == kExitRecord) {
    std::int32_t code = 0;
    std::memcpy(&code, msg.data() + 1, sizeof code);
    state_->status = code & 0xff;  // as the kernel reports an exit(code)
  } else {
    state_->error = std::make_exception_ptr(
        Error("mp: the exit status of " + name_ + " (pid " + std::to_string(state_->pid) +
              ") is unknown: the fork server that started it was killed before relaying it, and "
              "the process ended without passing through exit() (a signal, or _exit)"));
  }
  return true;
}

void Process::join() { join_until(std::chrono::steady_clock::time_point::max()); }

bool Process::is_alive() {
  if (!state_ || state_->exited) {
    return false;
  }
  return !join_until(std::chrono::steady_clock::time_point::min());
}

void Process::terminate() {
  if (state_ && !state_->exited) {
    state_->signal_sent = SIGTERM;
    sys::pidfd_signal(state_->pidfd.get(), SIGTERM);
  }
}

void Process::kill() {
  if (state_ && !state_->exited) {
    state_->signal_sent = SIGKILL;
    sys::pidfd_signal(state_->pidfd.get(), SIGKILL);
  }
}

pid_t Process::pid() const noexcept { return state_ ? state_->pid : 0; }

std::optional<int> Process::exitcode() {
  if (!state_) {
    return std::nullopt;
  }
  if (!state_->exited) {
    join_until(std::chrono::steady_clock::time_point::min());
  }
  return state_->status;
}

std::exception_ptr Process::exception() {
  exitcode();
  return state_ ? state_->error : nullptr;
}

}  // namespace mp
