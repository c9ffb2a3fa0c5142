#include <sys/mman.h>

#include <cstdint>

#include "mp/detail/codec.hpp"

namespace mp::detail {

// Writing 200 MiB into fresh memory here: 4 KiB pages 1.6 GB/s, huge pages faulted on
// first touch 3.4 GB/s, huge pages populated first by MADV_POPULATE_WRITE 4.6 GB/s (one
// system call instead of a trap per 2 MiB; BENCHMARKS.md, BM_PoolLargePayload/result_kept).
void prefault_huge_pages(void* data, std::size_t bytes) noexcept {
  constexpr std::uintptr_t kHuge = std::uintptr_t{2} << 20;
  if (bytes < 2 * kHuge) {
    return;
  }
  const auto start = (reinterpret_cast<std::uintptr_t>(data) + kHuge - 1) & ~(kHuge - 1);
  const auto end = (reinterpret_cast<std::uintptr_t>(data) + bytes) & ~(kHuge - 1);
  if (end > start) {
    ::madvise(reinterpret_cast<void*>(start), end - start, MADV_HUGEPAGE);
    // Linux >= 5.14; an older kernel says EINVAL and the pages fault in on first touch.
    ::madvise(reinterpret_cast<void*>(start), end - start, MADV_POPULATE_WRITE);
  }
}

}  // namespace mp::detail
