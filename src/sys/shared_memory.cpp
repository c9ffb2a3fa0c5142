#include "sys/shared_memory.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <stdexcept>
#include <utility>

namespace mp::sys {

namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

std::size_t page_size() {
  static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

#ifndef MADV_COLLAPSE
constexpr int MADV_COLLAPSE = 25;  // Linux >= 6.1
#endif

}  // namespace

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

// At a 2 MiB-aligned address, so that the kernel can map the file's huge pages whole in
// every process (prefault()). Memory too small for a huge page is mapped where the kernel
// likes: one call instead of three.
void SharedMemory::map() {
  const std::size_t page = page_size();
  const std::size_t length = (reserved_ + page - 1) / page * page;
  if (length < kHugePage) {
    void* p =
        ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd_.get(), 0);
    if (p == MAP_FAILED) {
      throw_errno("mmap");
    }
    data_ = static_cast<std::byte*>(p);
    return;
  }
  void* span = ::mmap(nullptr, length + kHugePage, PROT_NONE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (span == MAP_FAILED) {
    throw_errno("mmap");
  }
  const auto base = reinterpret_cast<std::uintptr_t>(span);
  const std::uintptr_t aligned = (base + kHugePage - 1) & ~(kHugePage - 1);
  void* p = ::mmap(reinterpret_cast<void*>(aligned), length, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_NORESERVE | MAP_FIXED, fd_.get(), 0);
  if (p == MAP_FAILED) {
    const int e = errno;
    ::munmap(span, length + kHugePage);
    errno = e;
    throw_errno("mmap");
  }
  if (aligned > base) {
    ::munmap(span, aligned - base);
  }
  if (base + kHugePage > aligned) {
    ::munmap(reinterpret_cast<void*>(aligned + length), base + kHugePage - aligned);
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
  // MADV_REMOVE punches the hole in the file behind the mapping, as fallocate would.
  const std::size_t page = page_size();
  const std::size_t first = (offset + page - 1) / page * page;
  const std::size_t end = std::min(reserved_, offset + n) / page * page;
  if (end > first) {
    ::madvise(data_ + first, end - first, MADV_REMOVE);
  }
}

void SharedMemory::prefault(std::size_t offset, std::size_t n, bool for_write) const noexcept {
  const std::size_t page = page_size();
  const std::size_t first = offset / page * page;
  const std::size_t end = std::min(reserved_, (offset + n + page - 1) / page * page);
  if (end <= first) {
    return;
  }
  if (for_write) {
    back_with_huge_pages(first, end);
  }
  ::madvise(data_ + first, end - first, for_write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
}

// Shared memory gets huge pages only if the administrator allows them for shmem
// (/sys/kernel/mm/transparent_hugepage/shmem_enabled, "never" by default), except through
// MADV_COLLAPSE, which works on pages that exist. So one 4 KiB page is made in each whole
// 2 MiB of the range, and the kernel then replaces each such 2 MiB by a huge page,
// keeping what the pages hold. Copies to and from the buffer then run ~1.3x faster (fewer
// TLB misses), and making 200 MiB this way costs a third of making it in 4 KiB pages
// (BENCHMARKS.md). Where the kernel refuses (older than 6.1, shmem huge pages denied, no
// free huge page), the pages stay 4 KiB.
void SharedMemory::back_with_huge_pages(std::size_t first, std::size_t end) const noexcept {
  const std::size_t start = (first + kHugePage - 1) / kHugePage * kHugePage;
  const std::size_t stop = std::min(end, size_) / kHugePage * kHugePage;
  if (stop <= start) {
    return;
  }
  for (std::size_t at = start; at != stop; at += kHugePage) {
    ::madvise(data_ + at, 1, MADV_POPULATE_WRITE);
  }
  ::madvise(data_ + start, stop - start, MADV_COLLAPSE);
}

}  // namespace mp::sys
