#include "mp/detail/shared_block.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>

#include "mp/errors.hpp"
#include "mp/shared.hpp"
#include "shm/fd_refs.hpp"
#include "sys/shared_memory.hpp"
#include "sys/unique_fd.hpp"

namespace mp::shm {

using detail::FdCapture;
using detail::SharedFdRef;

namespace {

std::uint64_t inode_of(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_ino) : 0;
}

// `fd` duplicated, if it is the file `r` names.
sys::UniqueFd dup_if_same(int fd, const SharedFdRef& r) {
  sys::UniqueFd copy(::fcntl(fd, F_DUPFD_CLOEXEC, 3));
  if (copy && inode_of(copy.get()) != r.inode) {
    copy.reset();
    errno = ENOENT;
  }
  return copy;
}

// Another process's descriptor, opened anew through /proc, if it is the file `r` names.
sys::UniqueFd open_if_same(std::int64_t pid, int fd, const SharedFdRef& r) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%lld/fd/%d", static_cast<long long>(pid), fd);
  // Opened as the sender opened it: a pipe end opened for both reading and writing would
  // make its holder a writer of what it watches for hang-up (a Connection's peer).
  // Non-blocking, so that opening a pipe never waits for its other side.
  sys::UniqueFd opened(::open(path, (r.access & O_ACCMODE) | O_CLOEXEC | O_NONBLOCK));
  if (opened && inode_of(opened.get()) != r.inode) {
    opened.reset();
    errno = ENOENT;
  }
  return opened ? sys::above_stdio(std::move(opened)) : std::move(opened);
}

[[noreturn]] void throw_unreachable(const SharedFdRef& r, int err) {
  throw SerializationError("mp: a shared object sent by process " + std::to_string(r.pid) +
                           " cannot be opened here (" + std::strerror(err) +
                           "): its sender or its creator (process " + std::to_string(r.origin_pid) +
                           ") must hold it until the receiver has it, and the receiver must "
                           "run as the same user");
}

}  // namespace

SharedFdRef origin_of_new(int fd) {
  SharedFdRef r;
  r.pid = r.origin_pid = ::getpid();
  r.fd = r.origin_fd = fd;
  r.inode = inode_of(fd);
  const int flags = ::fcntl(fd, F_GETFL);
  r.access = flags < 0 ? O_RDWR : (flags & O_ACCMODE);
  return r;
}

SharedFdRef make_ref(int fd, const SharedFdRef& origin) {
  SharedFdRef r = origin;
  r.pid = ::getpid();
  r.fd = fd;
  r.handed_over = 0;
  if (FdCapture* capture = FdCapture::active(); capture != nullptr) {
    if (capture->mode() == FdCapture::Mode::hand_over) {
      capture->add(fd);
      r.handed_over = 1;
    } else {
      r.fd = capture->keep(fd);
    }
  }
  return r;
}

sys::UniqueFd open_ref(const SharedFdRef& r) {
  const pid_t self = ::getpid();
  sys::UniqueFd fd;
  int err = ENOENT;
  const auto keep_errno = [&err] { err = errno; };
  if (r.handed_over != 0 || r.pid == self) {
    if ((fd = dup_if_same(r.fd, r))) return fd;
    keep_errno();
  }
  if (r.origin_pid == self) {
    if ((fd = dup_if_same(r.origin_fd, r))) return fd;
    keep_errno();
  }
  if (r.pid != self && r.handed_over == 0) {
    if ((fd = open_if_same(r.pid, r.fd, r))) return fd;
    keep_errno();
  }
  if (r.origin_pid != self && r.origin_pid != r.pid) {
    if ((fd = open_if_same(r.origin_pid, r.origin_fd, r))) return fd;
    keep_errno();
  }
  throw_unreachable(r, err);
}

}  // namespace mp::shm

namespace mp::detail {
namespace {
thread_local FdCapture* t_capture = nullptr;
}  // namespace

FdCapture::FdCapture(Mode mode) : mode_(mode), outer_(t_capture) { t_capture = this; }

FdCapture::~FdCapture() {
  t_capture = outer_;
  for (const int fd : copies_) {
    ::close(fd);
  }
}

FdCapture* FdCapture::active() noexcept { return t_capture; }

void FdCapture::add(int fd) {
  if (std::find(fds_.begin(), fds_.end(), fd) == fds_.end()) {
    fds_.push_back(fd);
  }
}

int FdCapture::keep(int fd) {
  const auto at = std::find(fds_.begin(), fds_.end(), fd);
  if (at != fds_.end()) {
    return copies_[static_cast<std::size_t>(at - fds_.begin())];
  }
  sys::UniqueFd copy = sys::above_stdio(sys::UniqueFd(::fcntl(fd, F_DUPFD_CLOEXEC, 3)));
  if (!copy) {
    sys::throw_errno("mp: keeping a shared object's descriptor for its receiver");
  }
  copies_.reserve(copies_.size() + 1);
  fds_.push_back(fd);
  copies_.push_back(copy.release());
  return copies_.back();
}

std::vector<int> FdCapture::take_kept() noexcept {
  fds_.clear();
  return std::exchange(copies_, {});
}

struct SharedBlock::Mapping {
  sys::SharedMemory memory;
  SharedFdRef origin;
};

SharedBlock SharedBlock::create(std::size_t bytes, const char* what) {
  SharedBlock b;
  sys::SharedMemory memory(what, std::max<std::size_t>(bytes, 1));
  const SharedFdRef origin = shm::origin_of_new(memory.fd());
  b.mapping_ = std::make_shared<Mapping>(Mapping{std::move(memory), origin});
  b.data_ = b.mapping_->memory.data();
  b.size_ = bytes;
  return b;
}

SharedFdRef SharedBlock::ref() const {
  if (!mapping_) {
    throw std::logic_error("mp: sending a shared object that was moved from");
  }
  return shm::make_ref(mapping_->memory.fd(), mapping_->origin);
}

SharedBlock SharedBlock::attach(const SharedFdRef& r) {
  SharedBlock b;
  b.mapping_ = std::make_shared<Mapping>(Mapping{sys::SharedMemory(shm::open_ref(r), 0), r});
  b.data_ = b.mapping_->memory.data();
  b.size_ = b.mapping_->memory.size();
  return b;
}

void throw_shared_index(std::size_t index, std::size_t size) {
  throw std::out_of_range("mp: index " + std::to_string(index) + " of a shared array of " +
                          std::to_string(size) + " elements");
}

}  // namespace mp::detail
