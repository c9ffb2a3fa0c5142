#include "sys/unique_fd.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <system_error>

namespace mp::sys {

void throw_errno(const char* what) { throw_errno(what, errno); }

void throw_errno(const char* what, int err) {
  throw std::system_error(err, std::system_category(), what);
}

void UniqueFd::reset(int fd) noexcept {
  if (fd_ >= 0) {
    // close(2) must not be retried on EINTR on Linux: the fd is released either way.
    ::close(fd_);
  }
  fd_ = fd;
}

bool write_full(int fd, const void* data, std::size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno == EPIPE) {
        return false;
      }
      throw_errno("write");
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

std::size_t read_full(int fd, void* data, std::size_t n) {
  char* p = static_cast<char*>(data);
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fd, p + got, n - got);
    if (r < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN) {
        break;
      }
      throw_errno("read");
    }
    if (r == 0) {
      break;
    }
    got += static_cast<std::size_t>(r);
  }
  return got;
}

PipeFds make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    throw_errno("pipe2");
  }
  return PipeFds{above_stdio(UniqueFd(fds[0])), above_stdio(UniqueFd(fds[1]))};
}

UniqueFd above_stdio(UniqueFd fd) {
  if (!fd || fd.get() > 2) {
    return fd;
  }
  UniqueFd moved(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3));
  if (!moved) {
    throw_errno("fcntl(F_DUPFD_CLOEXEC)");
  }
  return moved;
}

UniqueFd make_memfd(const char* name, unsigned flags) {
  UniqueFd fd(::memfd_create(name, MFD_CLOEXEC | flags));
  if (!fd) {
    throw_errno("memfd_create");
  }
  return above_stdio(std::move(fd));
}

namespace {
// False if fd is not open.
bool stat_identity(int fd, FileIdentity& out) noexcept {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return false;
  }
  out = {static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
  return true;
}
}  // namespace

FileIdentity identity_of(int fd) {
  FileIdentity id;
  if (!stat_identity(fd, id)) {
    throw_errno("fstat");
  }
  return id;
}

bool names_file(int fd, const FileIdentity& file) noexcept {
  FileIdentity now;
  return stat_identity(fd, now) && now.device == file.device && now.inode == file.inode;
}

namespace {
std::atomic<int> g_lost_descriptor{-1};
}  // namespace

void note_lost_descriptor(int fd) noexcept {
  g_lost_descriptor.store(fd, std::memory_order_relaxed);
}

int lost_descriptor() noexcept { return g_lost_descriptor.load(std::memory_order_relaxed); }

UniqueFd make_eventfd() {
  const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) {
    throw_errno("eventfd");
  }
  return above_stdio(UniqueFd(fd));
}

void signal_eventfd(int fd) noexcept {
  const std::uint64_t one = 1;
  // EAGAIN means the counter is already huge: the reader is awake anyway.
  [[maybe_unused]] const ssize_t r = ::write(fd, &one, sizeof one);
}

void drain_eventfd(int fd) noexcept {
  std::uint64_t v = 0;
  [[maybe_unused]] const ssize_t r = ::read(fd, &v, sizeof v);
}

UniqueFd open_pidfd(pid_t pid) {
  const long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) {
    throw_errno("pidfd_open");
  }
  return UniqueFd(static_cast<int>(fd));
}

void pidfd_signal(int pidfd, int signal) noexcept {
  [[maybe_unused]] const long r = ::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0);
}

bool wait_readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  for (;;) {
    const int r = ::poll(&p, 1, timeout_ms);
    if (r < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw_errno("poll");
    }
    return r > 0;
  }
}

bool poll_readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  const int r = ::poll(&p, 1, timeout_ms);
  if (r < 0 && errno != EINTR) {
    throw_errno("poll");
  }
  return r > 0;
}

}  // namespace mp::sys
