#include "sys/shared_memory.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace mp::sys {

SharedMemory::SharedMemory(const char* name, std::size_t size, std::size_t reserve)
    : size_(size), reserved_(reserve < size ? size : reserve) {
  fd_ = make_memfd(name);
  if (::ftruncate(fd_.get(), static_cast<off_t>(size)) != 0) {
    throw_errno("ftruncate");
  }
  map();
}

SharedMemory::SharedMemory(UniqueFd fd, std::size_t reserve) : fd_(std::move(fd)) {
  struct stat st {};
  if (::fstat(fd_.get(), &st) != 0) {
    throw_errno("fstat");
  }
  size_ = static_cast<std::size_t>(st.st_size);
  reserved_ = reserve < size_ ? size_ : reserve;
  map();
}

void SharedMemory::map() {
  void* p =
      ::mmap(nullptr, reserved_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd_.get(), 0);
  if (p == MAP_FAILED) {
    throw_errno("mmap");
  }
  data_ = static_cast<std::byte*>(p);
}

SharedMemory::SharedMemory(SharedMemory&& o) noexcept
    : fd_(std::move(o.fd_)),
      data_(std::exchange(o.data_, nullptr)),
      size_(std::exchange(o.size_, 0)),
      reserved_(std::exchange(o.reserved_, 0)) {}

SharedMemory& SharedMemory::operator=(SharedMemory&& o) noexcept {
  if (this != &o) {
    if (data_ != nullptr) {
      ::munmap(data_, reserved_);
    }
    fd_ = std::move(o.fd_);
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    reserved_ = std::exchange(o.reserved_, 0);
  }
  return *this;
}

SharedMemory::~SharedMemory() {
  if (data_ != nullptr) {
    ::munmap(data_, reserved_);
  }
}

void SharedMemory::resize(std::size_t size) {
  if (size > reserved_) {
    throw std::length_error("mp: shared buffer cannot grow past its reserved mapping");
  }
  if (::ftruncate(fd_.get(), static_cast<off_t>(size)) != 0) {
    throw_errno("ftruncate");
  }
  size_ = size;
}

void SharedMemory::discard(std::size_t offset, std::size_t n) noexcept {
  ::fallocate(fd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
              static_cast<off_t>(n));
}

void SharedMemory::prefault(std::size_t offset, std::size_t n, bool for_write) const noexcept {
  static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  const std::size_t first = offset / page * page;
  const std::size_t end = std::min(reserved_, (offset + n + page - 1) / page * page);
  if (end > first) {
    ::madvise(data_ + first, end - first, for_write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
  }
}

}  // namespace mp::sys
