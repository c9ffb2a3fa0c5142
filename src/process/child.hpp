// Starting a child process by fork, and leaving it.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>

#include "sys/unique_fd.hpp"

namespace mp::process {

// Forks. The child takes the name `name` (mp::current_process()), arms the parent-death
// signal when `die_with_parent` (and exits at once if the parent is already gone), runs
// `body` and exits with status 0, or 1 if body throws. Stdio is flushed before the fork,
// so buffered output is not printed twice. Returns the child's pid in the parent; throws
// std::system_error if fork fails.
template <class Body>
pid_t fork_child(const std::string& name, bool die_with_parent, Body&& body);

// A pidfd for `pid`, a child of this process just started and not yet reaped. If none
// can be had (no fd left), the child is killed and reaped before the error is thrown, so
// that nothing is left running that the caller has no handle to stop.
sys::UniqueFd pidfd_or_kill(pid_t pid);

// Flushes C and C++ standard streams and calls _exit: a child must not run the parent's
// atexit handlers or static destructors.
[[noreturn]] void exit_child(int code) noexcept;

// Threads of the calling process (from /proc/self/stat, without allocating).
int thread_count();

// The application's threads: thread_count() less the library's own. A fork copies only
// the calling thread, and a lock one of these holds stays locked in the child
// (sys/library_thread.hpp).
int user_thread_count();

// Arms SIGKILL on the death of `parent` (the thread that started this process) and
// exits at once if it is already gone.
void die_with_parent(pid_t parent);

// Implementation detail of fork_child.
pid_t fork_child_impl(const std::string& name, bool die_with_parent, void (*body)(void*),
                      void* ctx);

template <class Body>
pid_t fork_child(const std::string& name, bool die_with_parent, Body&& body) {
  return fork_child_impl(
      name, die_with_parent,
      [](void* ctx) { (*static_cast<std::remove_reference_t<Body>*>(ctx))(); }, &body);
}

}  // namespace mp::process
