// The byte queue under mp::Queue, at the edges of its ring: messages encoded in place up to
// the ring's last byte, an empty message when the ring is full, and messages that outgrow
// the room left and are finished elsewhere.
#include <gtest/gtest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "mp/detail/queue_core.hpp"

namespace {

using mp::detail::QueueCore;
using mp::detail::Writer;

constexpr std::size_t kFirstRing = std::size_t{64} << 10;  // as src/transport/queue_core.cpp

struct Message {
  std::size_t size;
  unsigned char seed;
};

void encode_pattern(Writer& out, const void* item) {
  const auto& m = *static_cast<const Message*>(item);
  for (std::size_t k = 0; k < m.size; ++k) {
    const auto b = static_cast<std::byte>(m.seed + k % 251);
    out.write(&b, 1);
  }
}

QueueCore::Clock::time_point soon() { return QueueCore::Clock::now() + std::chrono::seconds(5); }

void put(QueueCore& q, std::size_t size, unsigned char seed) {
  const Message m{size, seed};
  ASSERT_EQ(q.put(encode_pattern, &m, soon()), QueueCore::PutResult::ok);
}

// Takes the next message and says whether it is the one `put(size, seed)` wrote.
::testing::AssertionResult takes(const QueueCore& q, std::size_t size, unsigned char seed) {
  const QueueCore::Taken t = q.get(soon());
  if (!t) {
    return ::testing::AssertionFailure() << "no message arrived";
  }
  if (t.bytes().size() != size) {
    return ::testing::AssertionFailure()
           << "a message of " << t.bytes().size() << " bytes came instead of " << size;
  }
  for (std::size_t k = 0; k < size; ++k) {
    if (t.bytes()[k] != static_cast<std::byte>(seed + k % 251)) {
      return ::testing::AssertionFailure() << "byte " << k << " of " << size << " differs";
    }
  }
  return ::testing::AssertionSuccess();
}

TEST(QueueCore, AnEmptyMessageAfterOneThatFillsTheRingToItsLastByte) {
  QueueCore q(0, false);
  put(q, kFirstRing - sizeof(std::uint64_t), 1);  // the length word and the bytes: all of it
  put(q, 0, 0);
  put(q, 5, 2);
  EXPECT_EQ(q.qsize(), 3u);
  EXPECT_TRUE(takes(q, kFirstRing - sizeof(std::uint64_t), 1));
  EXPECT_TRUE(takes(q, 0, 0));
  EXPECT_TRUE(takes(q, 5, 2));
  EXPECT_EQ(q.qsize(), 0u);
}

TEST(QueueCore, MessagesThatOutgrowTheRoomLeftArriveWholeAndInOrder) {
  // Each size is chosen so that some messages end exactly at the ring's end, some would
  // cross it, and some find the ring full: the reader takes every other message late.
  const std::vector<std::size_t> sizes = {0,    8,     kFirstRing / 2 - 8, kFirstRing / 2 - 16,
                                          1,    24,    kFirstRing - 8,     kFirstRing + 1,
                                          4095, 65519, 3 * kFirstRing};
  QueueCore q(0, false);
  std::size_t next_take = 0;
  constexpr std::size_t kMessages = 400;
  for (std::size_t i = 0; i < kMessages; ++i) {
    put(q, sizes[i % sizes.size()], static_cast<unsigned char>(i));
    if (i % 2 == 1) {
      ASSERT_TRUE(takes(q, sizes[next_take % sizes.size()], static_cast<unsigned char>(next_take)))
          << "message " << next_take;
      ++next_take;
    }
  }
  for (; next_take < kMessages; ++next_take) {
    ASSERT_TRUE(takes(q, sizes[next_take % sizes.size()], static_cast<unsigned char>(next_take)))
        << "message " << next_take;
  }
  EXPECT_EQ(q.qsize(), 0u);
}

}  // namespace
