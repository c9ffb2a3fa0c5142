// Anonymous shared memory: a memfd mapped MAP_SHARED. Nothing is named, so nothing can
// be left behind in /dev/shm when a process is killed; the memory goes away with the
// last mapping and the last fd.
#pragma once

#include <cstddef>

#include "sys/unique_fd.hpp"

namespace mp::sys {

class SharedMemory {
 public:
  SharedMemory() = default;
  // A memfd of `size` bytes mapped read-write. `reserve` (>= size) is the length of the
  // mapping: the file can later grow up to it with resize() without moving the mapping,
  // so every process that inherited the mapping sees the growth at the same address.
  SharedMemory(const char* name, std::size_t size, std::size_t reserve = 0);
  // Maps a memfd another process created and passed on (its current size; `reserve` as
  // above, so that it can follow the creator's resize()).
  SharedMemory(UniqueFd fd, std::size_t reserve);
  SharedMemory(SharedMemory&& o) noexcept;
  SharedMemory& operator=(SharedMemory&& o) noexcept;
  SharedMemory(const SharedMemory&) = delete;
  SharedMemory& operator=(const SharedMemory&) = delete;
  ~SharedMemory();

  std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }
  std::size_t reserved() const { return reserved_; }
  int fd() const { return fd_.get(); }

  // Grows or shrinks the file (not the mapping); size <= reserved().
  void resize(std::size_t size);
  // Returns the pages of [offset, offset + n) to the system; they read back as zeros.
  // Through the mapping: no descriptor needed.
  void discard(std::size_t offset, std::size_t n) noexcept;
  // Closes the descriptor and keeps the mapping, in a process that will neither resize()
  // nor pass the memory on (a pool worker, whose tasks may close or reuse any number).
  void close_descriptor() noexcept { fd_.reset(); }
  // Maps the pages of [offset, offset + n) into this process in one call, instead of a
  // page fault per 4 KiB page on first touch (Linux >= 5.14; older kernels fault them in
  // as they are touched). With `for_write` it also allocates them, as huge pages where
  // the kernel allows, keeping what they hold.
  void prefault(std::size_t offset, std::size_t n, bool for_write) const noexcept;

 private:
  void map();
  void back_with_huge_pages(std::size_t first, std::size_t end) const noexcept;

  UniqueFd fd_;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t reserved_ = 0;
};

}  // namespace mp::sys
