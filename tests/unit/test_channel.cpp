// The shared-memory channel: frames arrive whole and in order, across the ring's end and
// through the large-message buffer.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "sys/doorbell.hpp"
#include "sys/shared_memory.hpp"
#include "transport/channel.hpp"

namespace {

using namespace mp;

struct Loop {
  sys::SharedMemory ring{"mp-test-ring", transport::kRingBytes};
  sys::SharedMemory large{"mp-test-large", 0, transport::kLargeReserve};
  transport::ChannelControl control;
  sys::Doorbell consumer_bell;
  sys::Doorbell producer_bell;
  transport::ChannelMemory mem() {
    return {&control, ring.data(), &large, &consumer_bell, &producer_bell};
  }
};

struct NoWait final : transport::ProducerWait {
  void wait_for_consumer() override { FAIL() << "producer had to wait"; }
};

TEST(Channel, FramesKeepOrderAcrossTheRingEnd) {
  Loop loop;
  transport::ChannelProducer p(loop.mem());
  transport::ChannelConsumer c(loop.mem());
  NoWait wait;
  std::vector<char> payload(300'000);
  for (std::uint64_t tag = 1; tag <= 200; ++tag) {
    ASSERT_TRUE(p.has_room());
    p.begin(7, tag, &wait);
    std::memset(payload.data(), static_cast<int>(tag), payload.size());
    p.write(payload.data(), payload.size() - tag);
    p.commit();
    transport::Frame f;
    ASSERT_TRUE(c.try_read(f));
    EXPECT_EQ(f.tag(), tag);
    EXPECT_EQ(f.kind(), 7u);
    ASSERT_EQ(f.size(), payload.size() - tag);
    auto r = f.reader();
    const std::byte* bytes = r.take(f.size());
    EXPECT_EQ(static_cast<int>(bytes[0]), static_cast<int>(tag));
    EXPECT_EQ(static_cast<int>(bytes[f.size() - 1]), static_cast<int>(tag));
    c.release(f);
    EXPECT_FALSE(c.readable());
  }
}

TEST(Channel, LargeMessagesGoThroughTheLargeBuffer) {
  Loop loop;
  transport::ChannelProducer p(loop.mem());
  transport::ChannelConsumer c(loop.mem());
  NoWait wait;
  std::vector<std::uint32_t> big(3'000'000);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint32_t>(i * 2654435761u);
  p.begin(1, 99, &wait);
  p.write(big.data(), big.size() * sizeof(std::uint32_t));
  p.commit();
  transport::Frame f;
  ASSERT_TRUE(c.try_read(f));
  ASSERT_EQ(f.size(), big.size() * sizeof(std::uint32_t));
  auto r = f.reader();
  EXPECT_EQ(std::memcmp(r.take(f.size()), big.data(), f.size()), 0);
  c.release(f);
  EXPECT_EQ(loop.control.large_busy.load(), 0u);
}

TEST(Channel, LargeBlocksAreAnnouncedBeforeTheFrameIsCommitted) {
  Loop loop;
  transport::ChannelProducer p(loop.mem());
  transport::ChannelConsumer c(loop.mem());
  NoWait wait;
  std::uint64_t tag = 0;
  std::uint64_t bytes = 0;
  std::vector<char> block(transport::kComingNotice, 'b');

  // Just below the size: no notice.
  p.begin(1, 41, &wait);
  p.write(block.data(), block.size() - 1);
  EXPECT_FALSE(c.take_coming(tag, bytes));
  p.commit();
  transport::Frame f;
  ASSERT_TRUE(c.try_read(f));
  c.release(f);

  p.begin(1, 42, &wait);
  const std::uint64_t length = block.size();
  p.write(&length, sizeof length);
  EXPECT_FALSE(c.take_coming(tag, bytes));
  p.write(block.data(), block.size());
  EXPECT_FALSE(c.readable());  // announced while the frame is still being written
  ASSERT_TRUE(c.take_coming(tag, bytes));
  EXPECT_EQ(tag, 42u);
  EXPECT_EQ(bytes, block.size());
  EXPECT_FALSE(c.take_coming(tag, bytes));  // taken once
  p.commit();
  ASSERT_TRUE(c.try_read(f));
  EXPECT_EQ(f.tag(), 42u);
  EXPECT_EQ(f.size(), sizeof length + block.size());
  c.release(f);
}

TEST(Channel, AbortedFrameIsNeverSeen) {
  Loop loop;
  transport::ChannelProducer p(loop.mem());
  transport::ChannelConsumer c(loop.mem());
  NoWait wait;
  p.begin(1, 5, &wait);
  int x = 3;
  p.write(&x, sizeof x);
  p.abort();
  EXPECT_FALSE(c.readable());
  p.begin(1, 6, &wait);
  p.write(&x, sizeof x);
  p.commit();
  transport::Frame f;
  ASSERT_TRUE(c.try_read(f));
  EXPECT_EQ(f.tag(), 6u);
}

}  // namespace
