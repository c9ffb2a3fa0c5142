#include "process/child.hpp"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <iostream>

#include "process/current.hpp"
#include "process/launcher.hpp"
#include "sys/interrupt.hpp"
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
  // A child forked while an InterruptWatch is live inherits its handlers until it resets
  // them; SIGINT and SIGTERM stay blocked until then, so that a SIGTERM sent to a
  // brand-new worker ends it instead of being recorded and forgotten.
  sigset_t interrupts;
  sigset_t previous;
  ::sigemptyset(&interrupts);
  ::sigaddset(&interrupts, SIGINT);
  ::sigaddset(&interrupts, SIGTERM);
  ::pthread_sigmask(SIG_BLOCK, &interrupts, &previous);
  const pid_t pid = ::fork();
  if (pid != 0) {
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    if (pid < 0) {
      sys::throw_errno("fork");
    }
    return pid;
  }
  // Child. No exception may leave this frame: it would unwind into the parent's stack.
  sys::InterruptWatch::reset_in_child();
  forget_fork_server_in_child();
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (die_with_parent) {
    process::die_with_parent(parent);
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
