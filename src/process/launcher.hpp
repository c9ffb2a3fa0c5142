// Starting a child that does not share the caller's memory: by exec of the program
// (spawn) or by the fork server. Unlike fork_child, the child gets no copy of the
// caller's objects; it is told which role to play (a pool worker, the fork server),
// given file descriptors at the same numbers they have in the caller, and a blob of
// bytes the role decodes.
//
//   caller                      spawn: posix_spawn(/proc/self/exe) ─► main ─► mp::init
//   launch(spec) ──────────────►                                         └─► role(boot)
//                               forkserver: request over a socket ─► server forks ─► role(boot)
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "sys/unique_fd.hpp"

namespace mp::process {

struct LaunchSpec {
  std::string role;
  // Passed to the child at the same numbers they have in the caller.
  std::vector<int> fds;
  std::vector<std::byte> blob;
  // The fork server kills the child when the caller is gone (a pool worker, a daemon
  // Process); otherwise the child outlives it, as a non-daemon Process outlives its parent.
  bool die_with_caller = true;
};

// What a role is given in the child.
struct ChildBoot {
  std::vector<std::byte> blob;
  pid_t parent = 0;  // the process that started it (the caller, or the fork server)
};
// Runs the role; must not return (exit_child when done).
using ChildRole = void (*)(const ChildBoot&);
// Called during static initialisation by the file that defines the role, so a role is
// known in every program that can ask for it: the file is linked in with the code that
// launches it.
bool register_child_role(std::string_view name, ChildRole role);

// Not a wait status (those are 16-bit): see Launcher::reap.
inline constexpr int kStatusUnknown = -1;

struct Launched {
  pid_t pid = 0;
  sys::UniqueFd pidfd;  // readable once the child has exited
};

class Launcher {
 public:
  virtual ~Launcher() = default;
  // Starts a child. Throws std::system_error if it cannot be started.
  virtual Launched launch(const LaunchSpec& spec) = 0;
  // The wait status (as waitpid's) of a child this launcher started, once it has exited
  // (its pidfd is readable, or it was sent SIGKILL); blocks until the status is known.
  // kStatusUnknown when nobody can tell any more: the fork server that started it died
  // before relaying it (the child, orphaned, was reaped by another process).
  virtual int reap(pid_t pid) = 0;
};

// fork + exec of the program itself (posix_spawn, safe from a threaded caller).
Launcher& spawn_launcher();
// The process-wide fork server, started by spawn on first use.
Launcher& fork_server();

// In a process that a launcher started by exec, plays the role it was started for and
// never returns; elsewhere returns at once.
void enter_child_role_if_requested();
// Remembers the program's argv, for spawn to exec it the same way.
void set_program_arguments(int argc, char** argv);

// The fork server's pid, 0 if none runs (for tests that count children).
pid_t fork_server_pid();
// Stops the fork server and reaps it; the next launch starts a new one.
void stop_fork_server();
// Called in a forked child: the parent's connection to its fork server is not the
// child's to use.
void forget_fork_server_in_child() noexcept;

}  // namespace mp::process
