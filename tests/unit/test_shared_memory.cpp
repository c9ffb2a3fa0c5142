// Shared memory as the transport uses it: every process maps it at a huge-page boundary,
// and allocating its pages ahead of writing keeps what they already hold.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>

#include "sys/shared_memory.hpp"

namespace {

using mp::sys::SharedMemory;
using mp::sys::UniqueFd;

constexpr std::size_t kMiB = std::size_t{1} << 20;
constexpr std::uintptr_t kHugePage = 2 * kMiB;

SharedMemory map_again(const SharedMemory& m) {
  return SharedMemory(UniqueFd(::dup(m.fd())), m.reserved());
}

// Inaccessible mappings, as the reservation that aligns a shared mapping is (the
// allocator's own mappings, which a sanitizer's runtime adds as it goes, are accessible).
std::size_t inaccessible_mapping_count() {
  std::ifstream maps("/proc/self/maps");
  std::size_t n = 0;
  for (std::string line; std::getline(maps, line);) {
    const auto perms = line.find(' ');
    n += line.compare(perms + 1, 4, "---p") == 0 ? 1 : 0;
  }
  return n;
}

std::byte pattern(std::size_t i) { return static_cast<std::byte>((i * 2654435761u) >> 13); }

// Memory smaller than a huge page cannot use one; it is mapped wherever the kernel likes.
TEST(SharedMemory, EveryMappingThatCanHoldAHugePageStartsAtItsBoundary) {
  for (std::size_t reserve : {std::size_t{4096}, 2 * kMiB, 3 * kMiB, 64 * kMiB}) {
    SharedMemory m("mp-test-shm", 4096, reserve);
    SharedMemory other = map_again(m);
    if (reserve >= kHugePage) {
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(m.data()) % kHugePage, 0u) << reserve;
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(other.data()) % kHugePage, 0u) << reserve;
    }
    m.data()[100] = std::byte{7};
    EXPECT_EQ(other.data()[100], std::byte{7});
    other.data()[4095] = std::byte{9};
    EXPECT_EQ(m.data()[4095], std::byte{9});
  }
}

// The address space reserved to align a mapping is given back, whatever its size (a
// doorbell's mapping is a few bytes): a program that makes many pools must not collect
// mappings.
TEST(SharedMemory, LeavesNoMappingBehind) {
  const std::size_t before = inaccessible_mapping_count();
  for (int i = 0; i < 200; ++i) {
    for (std::size_t reserve : {std::size_t{8}, std::size_t{4096}, 3 * kMiB + 5}) {
      SharedMemory m("mp-test-shm", 8, reserve);
      SharedMemory other = map_again(m);
      other.data()[0] = std::byte{1};
    }
  }
  // 400 left behind if the reservations leaked; a sanitizer's runtime may add a few.
  EXPECT_LT(inaccessible_mapping_count(), before + 10);
}

// The bytes in [1 MiB, 5 MiB) are written before the pages around them are allocated
// (huge pages where the kernel allows): they must survive, the rest reads as zeros, and
// both mappings still see one memory.
TEST(SharedMemory, PrefaultForWritingKeepsWhatThePagesHold) {
  const std::size_t size = 9 * kMiB;
  SharedMemory m("mp-test-shm", size, 16 * kMiB);
  for (std::size_t i = kMiB; i < 5 * kMiB; ++i) {
    m.data()[i] = pattern(i);
  }
  m.prefault(0, size, true);
  SharedMemory other = map_again(m);
  other.prefault(0, size, false);
  for (std::size_t i = 0; i < size; ++i) {
    const std::byte want = i >= kMiB && i < 5 * kMiB ? pattern(i) : std::byte{0};
    ASSERT_EQ(m.data()[i], want) << "byte " << i;
    ASSERT_EQ(other.data()[i], want) << "byte " << i << " in the second mapping";
  }
  other.data()[size - 1] = std::byte{9};
  m.data()[3 * kMiB] = std::byte{11};
  EXPECT_EQ(m.data()[size - 1], std::byte{9});
  EXPECT_EQ(other.data()[3 * kMiB], std::byte{11});
}

}  // namespace
