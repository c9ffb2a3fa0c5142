#include "process/child.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>

#include "process/current.hpp"
#include "process/launcher.hpp"
#include "sys/interrupt.hpp"
#include "sys/library_thread.hpp"
#include "sys/shm_names.hpp"
#include "sys/unique_fd.hpp"

namespace mp::process {

void exit_child(int code) noexcept {
  try {
    std::cout.flush();
    std::cerr.flush();
  } catch (...) {
  }
  std::fflush(nullptr);
  sys::unlink_shm_names_created_here();  // as a normal exit would
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
  if (sys::on_library_thread()) {
    ::sigemptyset(&previous);  // the library's threads block signals meant for the program
  }
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

sys::UniqueFd pidfd_or_kill(pid_t pid) {
  try {
    return sys::open_pidfd(pid);
  } catch (...) {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    throw;
  }
}

int thread_count() {
  // From /proc/self/stat (field 20, num_threads), read without allocating: this runs
  // before every fork of a pool worker.
  char buf[1024];
  const int fd = ::open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return 1;
  }
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) {
    return 1;
  }
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');  // the command name may contain anything
  if (p == nullptr) {
    return 1;
  }
  // Fields after the name: state (3) ... num_threads (20), separated by single spaces.
  for (int field = 2; field < 20 && *p != '\0'; ++p) {
    if (*p == ' ') {
      ++field;
    }
  }
  const long threads = std::strtol(p, nullptr, 10);
  return threads > 0 ? static_cast<int>(threads) : 1;
}

int user_thread_count() { return std::max(thread_count() - sys::library_threads(), 1); }

void die_with_parent(pid_t parent) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The signal is tied to the parent's death after this point only.
  if (::getppid() != parent) {
    exit_child(1);
  }
}

}  // namespace mp::process
