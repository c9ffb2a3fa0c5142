#include "sys/shm_names.hpp"

#include "sys/fork_private_fds.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>

namespace mp::sys {

namespace {

// The tracker: a process of its own (nobody's child) that holds the read end of a pipe
// whose write end only the creating process holds. Names come as "+name\n" and go as
// "-name\n"; at end of file, whatever way the creator ended, it unlinks what is left.
// It was forked from a process that may have had other threads, so it allocates nothing.
constexpr int kMaxTracked = 1024;
constexpr int kMaxName = 256;

[[noreturn]] void run_tracker(int in) {
  static char names[kMaxTracked][kMaxName + 2];  // "/name", or empty
  static char line[kMaxName + 2];
  std::size_t used = 0;
  bool too_long = false;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] != '\n') {
        if (used < sizeof line - 1) {
          line[used++] = buf[i];
        } else {
          too_long = true;
        }
        continue;
      }
      line[used] = '\0';
      if (!too_long && used > 1) {
        char path[kMaxName + 2];
        const std::size_t len = std::min<std::size_t>(used - 1, kMaxName);
        path[0] = '/';
        std::memcpy(path + 1, line + 1, len);
        path[len + 1] = '\0';
        int free_slot = -1;
        for (int k = 0; k < kMaxTracked; ++k) {
          if (names[k][0] == '\0') {
            free_slot = free_slot < 0 ? k : free_slot;
          } else if (std::strcmp(names[k], path) == 0) {
            names[k][0] = '\0';  // "-": forgotten; "+": stored again below
          }
        }
        if (line[0] == '+' && free_slot >= 0) {
          std::strcpy(names[free_slot], path);
        }
      }
      used = 0;
      too_long = false;
    }
  }
  for (auto& name : names) {
    if (name[0] != '\0') {
      ::shm_unlink(name);
    }
  }
  ::_exit(0);
}

// The tracker was forked with the creator's mappings, shared memory of its objects
// included (a queue, a 1 GiB array): mapped here, that memory would live as long as the
// tracker, after the creator let go of it. Reads /proc/self/maps without allocating.
void unmap_shared_memory() {
  constexpr int kMaxRanges = 4096;
  static std::uintptr_t starts[kMaxRanges];
  static std::uintptr_t ends[kMaxRanges];
  for (int pass = 0; pass < 8; ++pass) {  // more shared ranges than one pass holds
    const int maps = ::open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (maps < 0) {
      return;
    }
    int found = 0;
    bool more = false;
    char buf[4096];
    // One line's fields: start, end, perms; a line longer than them is skipped to its end.
    std::uintptr_t start = 0;
    std::uintptr_t end = 0;
    int field = 0;  // 0 start, 1 end, 2 perms, 3 rest of the line
    int perm = 0;
    bool shared = false;
    for (ssize_t n; (n = ::read(maps, buf, sizeof buf)) > 0;) {
      for (ssize_t i = 0; i < n; ++i) {
        const char c = buf[i];
        if (c == '\n') {
          if (shared && end > start) {
            if (found < kMaxRanges) {
              starts[found] = start;
              ends[found++] = end;
            } else {
              more = true;
            }
          }
          start = end = 0;
          field = perm = 0;
          shared = false;
        } else if (field < 2) {
          if (c == '-' || c == ' ') {
            ++field;
            continue;
          }
          const int digit = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
          std::uintptr_t& v = field == 0 ? start : end;
          v = v * 16 + static_cast<std::uintptr_t>(digit);
        } else if (field == 2) {
          if (c == ' ') {
            field = 3;
          } else if (perm++ == 3) {
            shared = c == 's';
          }
        }
      }
    }
    ::close(maps);
    for (int k = 0; k < found; ++k) {
      ::munmap(reinterpret_cast<void*>(starts[k]), ends[k] - starts[k]);
    }
    if (!more) {
      return;
    }
  }
}

// Starts a tracker; returns the write end of its pipe, or -1. Returns once the tracker
// has let go of the creator's descriptors and shared memory, so that when the first
// named segment exists nothing but the creator holds the creator's other objects.
int start_tracker() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    return -1;
  }
  int settled[2];  // end of file here once the tracker has let go
  if (::pipe2(settled, O_CLOEXEC) != 0) {
    ::close(p[0]);
    ::close(p[1]);
    return -1;
  }
  // A Process forked meanwhile by another thread must not hold the write end.
  register_fork_private_fd(settled[1]);
  const pid_t middle = ::fork();
  if (middle < 0) {
    unregister_fork_private_fd(settled[1]);
    for (const int fd : {p[0], p[1], settled[0], settled[1]}) {
      ::close(fd);
    }
    return -1;
  }
  if (middle == 0) {
    // The middle process forks the tracker and exits, so the tracker is nobody's child
    // and the creator has no child to wait for.
    if (::fork() == 0) {
      ::setsid();
      // Hold nothing but the pipe: an inherited descriptor would keep another pipe open.
      // `settled` moves above 3 first, so that placing the pipe on 3 cannot close it.
      const int settled_out = ::fcntl(settled[1], F_DUPFD, 4);
      if (settled_out >= 4 && ::dup2(p[0], 3) == 3 && ::dup2(settled_out, 4) == 4) {
        ::close_range(5, ~0U, 0);
        const int null = ::open("/dev/null", O_RDWR);
        for (int fd = 0; fd < 3 && null >= 0; ++fd) {
          ::dup2(null, fd);
        }
        if (null > 4) {
          ::close(null);
        }
        unmap_shared_memory();
        ::close(4);
        run_tracker(3);
      }
      ::_exit(1);
    }
    ::_exit(0);
  }
  ::close(p[0]);
  unregister_fork_private_fd(settled[1]);
  ::close(settled[1]);
  int status = 0;
  while (::waitpid(middle, &status, 0) < 0 && errno == EINTR) {
  }
  // Bounded: a tracker that cannot be seen settling still tracks; it only may hold the
  // creator's memory a little longer.
  pollfd wait{settled[0], POLLIN, 0};
  char byte;
  for (;;) {
    const int ready = ::poll(&wait, 1, 5000);
    if ((ready < 0 && errno == EINTR) ||
        (ready > 0 && ::read(settled[0], &byte, 1) < 0 && errno == EINTR)) {
      continue;
    }
    break;
  }
  ::close(settled[0]);
  return p[1];
}

struct CreatedNames {
  std::mutex m;
  pid_t creator = 0;
  int tracker = -1;  // write end, this process's own
  std::set<std::string> names;
};

CreatedNames& created() {
  static auto* c = new CreatedNames;  // read by the exit handler, after static destruction
  return *c;
}

void tell_tracker(const CreatedNames& c, char op, const std::string& name) {
  if (c.tracker < 0 || name.size() > static_cast<std::size_t>(kMaxName) - 1) {
    return;
  }
  const std::string line = op + name + '\n';  // one write below PIPE_BUF: never torn
  while (::write(c.tracker, line.data(), line.size()) < 0 && errno == EINTR) {
  }
}

void unlink_at_exit() { unlink_shm_names_created_here(); }

}  // namespace

void remember_shm_name(const std::string& name) {
  CreatedNames& c = created();
  std::lock_guard lock(c.m);
  if (c.creator != ::getpid()) {
    // Inherited through fork: the parent's names and tracker, not this process's.
    c.names.clear();
    if (c.creator == 0) {
      std::atexit(unlink_at_exit);
    }
    c.creator = ::getpid();
    c.tracker = start_tracker();
  }
  c.names.insert(name);
  tell_tracker(c, '+', name);
}

void forget_shm_name(const std::string& name) {
  CreatedNames& c = created();
  std::lock_guard lock(c.m);
  if (c.creator == ::getpid() && c.names.erase(name) != 0) {
    tell_tracker(c, '-', name);
  }
}

void unlink_shm_names_created_here() noexcept {
  CreatedNames& c = created();
  // An exiting child may have been forked while another thread held the lock: never wait.
  std::unique_lock lock(c.m, std::try_to_lock);
  if (!lock.owns_lock() || c.creator != ::getpid()) {
    return;
  }
  for (const std::string& n : c.names) {
    ::shm_unlink(("/" + n).c_str());
  }
  c.names.clear();
}

}  // namespace mp::sys
