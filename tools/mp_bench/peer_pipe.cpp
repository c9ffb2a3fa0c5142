// A raw pipe round trip between two processes: what a program gets from the kernel alone,
// with no shared memory. mp's Pipe and Queue are compared to it (and to the futex floor).
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>

#include "peers.hpp"

namespace mp_bench::peers {

namespace {

bool read_int(int fd, std::int64_t& v) {
  for (;;) {
    const ssize_t n = ::read(fd, &v, sizeof v);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    return n == static_cast<ssize_t>(sizeof v);  // a pipe delivers 8 bytes whole
  }
}

bool write_int(int fd, std::int64_t v) {
  for (;;) {
    const ssize_t n = ::write(fd, &v, sizeof v);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    return n == static_cast<ssize_t>(sizeof v);
  }
}

}  // namespace

RoundTrips pipe_ping_pong(int n) {
  int to_child[2];
  int to_parent[2];
  if (::pipe2(to_child, O_CLOEXEC) != 0) {
    return {};
  }
  if (::pipe2(to_parent, O_CLOEXEC) != 0) {
    ::close(to_child[0]);
    ::close(to_child[1]);
    return {};
  }
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(1);
    }
    ::close(to_child[1]);
    ::close(to_parent[0]);
    std::int64_t x = 0;
    while (read_int(to_child[0], x)) {  // until the parent closes its end
      if (!write_int(to_parent[1], x + 1)) {
        ::_exit(1);
      }
    }
    ::_exit(0);
  }
  ::close(to_child[0]);
  ::close(to_parent[1]);
  RoundTrips out;
  if (child > 0) {
    out.ok = true;
    std::int64_t x = 0;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < n && out.ok; ++i) {
      const std::int64_t sent = x;
      out.ok = write_int(to_child[1], x) && read_int(to_parent[0], x) && x == sent + 1;
    }
    out.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / n;
  }
  ::close(to_child[1]);
  ::close(to_parent[0]);
  if (child > 0) {
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    out.ok = out.ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  return out;
}

}  // namespace mp_bench::peers
