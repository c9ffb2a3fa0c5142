#include "process/child.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <iostream>

#include "process/current.hpp"
#include "sys/unique_fd.hpp"

namespace mp::process {

void exit_child(int code) noexcept {
  try {
    std::cout.flush();
    std::cerr.flush();
  } catch (...) {
  }
  std::fflush(nullptr);
  ::_exit(code);
}

pid_t fork_child_impl(const std::string& name, bool die_with_parent, void (*body)(void*),
                      void* ctx) {
  std::cout.flush();
  std::fflush(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    sys::throw_errno("fork");
  }
  if (pid > 0) {
    return pid;
  }
  // Child. No exception may leave this frame: it would unwind into the parent's stack.
  if (die_with_parent) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    // The signal is tied to the parent's death after this point only.
    if (::getppid() != parent) {
      ::_exit(1);
    }
  }
  int code = 0;
  try {
    set_current_process_name(name);
    body(ctx);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mp: process %s: %s\n", name.c_str(), e.what());
    code = 1;
  } catch (...) {
    code = 1;
  }
  exit_child(code);
}

}  // namespace mp::process
