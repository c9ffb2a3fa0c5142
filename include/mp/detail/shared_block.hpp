// The memory behind every shared object (locks, values, arrays, queues): an anonymous
// memory file mapped into each process that holds the object. Nothing is named, so
// nothing is left behind when the processes are gone, however they end.
//
// A forked child inherits the mapping with the rest of the parent's memory. A process
// started by exec or by the fork server gets the file descriptor itself: while a
// Process target or a Pool initializer is encoded, the shared objects in it add their
// descriptors to the FdCapture of the encoding thread, the launcher hands those to the
// child at the same numbers, and decoding maps them there. Sent any other way (as a
// task's argument to a running worker), the receiver opens the sender's descriptor
// through /proc/<pid>/fd, which works as long as the sender holds the object. A worker
// holds a copy of the descriptors in a task's result until the parent has read it
// (FdCapture's keep_open), so a task may return an array it made and let go of.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <cereal/access.hpp>

namespace mp::detail {

// Collects the descriptors of the shared objects encoded on this thread while it lives.
//
// hand_over: the launcher of a child gives them to it at the same numbers (a Process
// target, a Pool initializer).
// keep_open: the encoder holds a copy of each until the receiver has opened its own
// through /proc: a worker's task results, whose shared objects (an array the task made)
// are gone from the worker by the time the parent reads the result. The reference names
// the copy.
class FdCapture {
 public:
  enum class Mode { hand_over, keep_open };
  explicit FdCapture(Mode mode = Mode::hand_over);
  ~FdCapture();
  FdCapture(const FdCapture&) = delete;
  FdCapture& operator=(const FdCapture&) = delete;

  Mode mode() const noexcept { return mode_; }
  // hand_over: the descriptors recorded.
  const std::vector<int>& fds() const noexcept { return fds_; }
  // The innermost capture of the thread, nullptr if none.
  static FdCapture* active() noexcept;
  // hand_over: records `fd` once.
  void add(int fd);
  // keep_open: the number of this capture's copy of `fd`, made on first use.
  int keep(int fd);
  // keep_open: the copies, which the caller now owns and closes.
  std::vector<int> take_kept() noexcept;

 private:
  Mode mode_;
  std::vector<int> fds_;
  std::vector<int> copies_;  // keep_open: copies_[i] holds fds_[i]
  FdCapture* outer_;
};

// How a descriptor travels inside a message: where the sender has it, and where the
// process that created the file has it, in case the sender lets go of its own first (a
// task that returns an array it received); the inode tells a reused descriptor number
// from the file itself.
struct SharedFdRef {
  std::int64_t pid = 0;          // the process that sent it
  std::int32_t fd = -1;          // its number there
  std::uint8_t handed_over = 0;  // 1: the launcher gives it to the receiver at that number
  std::int64_t origin_pid = 0;   // the process that created the file
  std::int32_t origin_fd = -1;   // its number there
  std::uint64_t inode = 0;
  std::int32_t access = 2;  // how the sender opened it: O_RDONLY, O_WRONLY or O_RDWR (2)

  template <class Archive>
  void serialize(Archive& ar) {
    ar(pid, fd, handed_over, origin_pid, origin_fd, inode, access);
  }
};

// A block of zero-filled memory shared with every process it reaches.
class SharedBlock {
 public:
  SharedBlock() = default;
  // `what` names the memory file (visible in /proc/<pid>/fd, for whoever debugs).
  static SharedBlock create(std::size_t bytes, const char* what);

  std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  explicit operator bool() const noexcept { return mapping_ != nullptr; }

 private:
  friend class cereal::access;
  template <class Archive>
  void save(Archive& ar) const {
    ar(ref());
  }
  template <class Archive>
  void load(Archive& ar) {
    SharedFdRef r;
    ar(r);
    *this = attach(r);
  }
  SharedFdRef ref() const;
  static SharedBlock attach(const SharedFdRef& r);

  struct Mapping;  // the memory, and where the file came from
  std::shared_ptr<Mapping> mapping_;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace mp::detail
