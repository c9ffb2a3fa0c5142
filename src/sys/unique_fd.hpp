// Owning file descriptor and the I/O helpers every module needs: EINTR retried,
// partial reads and writes completed, errors thrown as std::system_error naming the call.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <utility>

namespace mp::sys {

[[noreturn]] void throw_errno(const char* what);
[[noreturn]] void throw_errno(const char* what, int err);

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      reset(std::exchange(o.fd_, -1));
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

// `fd`, moved to a number above 2 (close-on-exec) if it is 0, 1 or 2. A program that
// closed its standard streams gets those numbers back from the next open; a shared
// memory fd there would take whatever the program (or a worker) prints to stderr.
UniqueFd above_stdio(UniqueFd fd);

// Writes all n bytes (retrying EINTR and partial writes). Returns false on EPIPE.
bool write_full(int fd, const void* data, std::size_t n);
// Reads until n bytes or EOF; returns the number read.
std::size_t read_full(int fd, void* data, std::size_t n);

// A pipe whose ends close on exec.
struct PipeFds {
  UniqueFd read;
  UniqueFd write;
};
PipeFds make_pipe();

// An anonymous memory file (close-on-exec, above the standard streams); `flags` are
// added to MFD_CLOEXEC. Throws std::system_error on failure.
UniqueFd make_memfd(const char* name, unsigned flags = 0);

// What a descriptor names (its device and inode), to tell the file the library opened
// from another file a task opened later at the same number.
struct FileIdentity {
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
};
FileIdentity identity_of(int fd);
// False when `fd` is closed or names another file.
bool names_file(int fd, const FileIdentity& file) noexcept;

// A process records here that a descriptor the library relies on was closed or replaced
// by code it does not control (a task); -1 while none was. The owner of the process (a
// pool worker) looks after each task and retires.
void note_lost_descriptor(int fd) noexcept;
int lost_descriptor() noexcept;

// An eventfd in non-blocking mode, used as a doorbell that epoll can watch.
UniqueFd make_eventfd();
void signal_eventfd(int fd) noexcept;
void drain_eventfd(int fd) noexcept;

// pidfd_open(2): an fd that becomes readable when the process exits.
UniqueFd open_pidfd(pid_t pid);
// pidfd_send_signal(2): signals the process the pidfd names, never a later process that
// reused its pid. No effect once it has exited.
void pidfd_signal(int pidfd, int signal) noexcept;

// Waits until fd is readable or timeout_ms passes (-1: forever). Returns true if readable.
bool wait_readable(int fd, int timeout_ms);
// One poll(2): true if fd is readable, false if timeout_ms passed or a signal handler ran
// (so the caller can look at what the handler recorded).
bool poll_readable(int fd, int timeout_ms);

}  // namespace mp::sys
