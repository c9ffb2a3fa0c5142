// The shared-memory channel: frames arrive whole and in order, across the ring's end and
// through the large-message buffer.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

#include "sys/doorbell.hpp"
#include "sys/shared_memory.hpp"
#include "transport/channel.hpp"

namespace {

using namespace mp;

struct Loop {
  sys::SharedMemory ring{"mp-test-ring", transport::kRingBytes};
  sys::SharedMemory large{"mp-test-large", transport::large_buffer_size(),
                          transport::kLargeReserve};
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

// Waits as a worker does, without a bell to sleep on: spins until there is more.
struct SpinWait final : transport::ConsumerWait {
  void wait_for_producer(bool (*more)(const void*), const void* ctx) override {
    while (!more(ctx)) {
      std::this_thread::yield();
    }
  }
};

// A streaming producer, and a consumer that can wait for it.
struct Streaming {
  Loop loop;
  SpinWait spin;
  transport::ChannelProducer p{loop.mem()};
  transport::ChannelConsumer c{loop.mem(), &spin};
  Streaming() { p.set_streaming(true); }
};

TEST(Channel, StreamedMessageIsReadWhileItIsWritten) {
  Streaming s;
  auto& p = s.p;
  auto& c = s.c;
  NoWait wait;
  std::vector<std::uint32_t> big((40u << 20) / 4);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint32_t>(i * 2654435761u);

  std::size_t seen_at_start = 0;
  std::atomic<bool> started{false};
  std::vector<std::uint32_t> got;
  std::thread reader([&] {
    transport::Frame f;
    while (!c.try_read(f)) {
      std::this_thread::yield();
    }
    seen_at_start = f.size();
    started = true;
    auto r = f.reader();
    std::uint64_t n = 0;
    r.read(&n, sizeof n);
    got.resize(n);
    r.read(got.data(), n * sizeof(std::uint32_t));
    EXPECT_TRUE(r.at_end());
    c.release(f);
  });
  p.begin(1, 7, &wait);
  const std::uint64_t n = big.size();
  p.write(&n, sizeof n);
  // In pieces, with pauses, so that the reader catches up with the writer; the rest
  // only once the reader has the frame.
  for (std::size_t at = 0; at < big.size(); at += big.size() / 8) {
    p.write(big.data() + at, big.size() / 8 * sizeof(std::uint32_t));
    while (!started) {
      std::this_thread::yield();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  p.commit();
  reader.join();
  EXPECT_LT(seen_at_start, sizeof n + big.size() * sizeof(std::uint32_t));
  EXPECT_EQ(got, big);
  EXPECT_EQ(s.loop.control.large_busy.load(), 0u);

  // The channel goes on as before: a small frame, then a large one written all at once.
  p.begin(1, 8, &wait);
  p.write(&n, sizeof n);
  p.commit();
  transport::Frame f;
  ASSERT_TRUE(c.try_read(f));
  EXPECT_EQ(f.tag(), 8u);
  EXPECT_EQ(f.size(), sizeof n);
  c.release(f);
  p.begin(1, 9, &wait);
  p.write(big.data(), big.size() * sizeof(std::uint32_t));
  p.commit();
  ASSERT_TRUE(c.try_read(f));
  auto r = f.reader();
  EXPECT_EQ(std::memcmp(r.take(big.size() * sizeof(std::uint32_t)), big.data(),
                        big.size() * sizeof(std::uint32_t)),
            0);
  EXPECT_TRUE(r.at_end());
  c.release(f);
}

TEST(Channel, StreamedMessageGivenUpThrowsInTheReader) {
  Streaming s;
  auto& p = s.p;
  auto& c = s.c;
  NoWait wait;
  std::vector<char> block(3u << 20, 'a');
  p.begin(1, 5, &wait);
  p.write(block.data(), block.size());
  transport::Frame f;
  ASSERT_TRUE(c.try_read(f));  // published before it is complete
  EXPECT_EQ(f.tag(), 5u);
  p.abort();
  auto r = f.reader();
  EXPECT_THROW(
      {
        while (!r.at_end()) {
          r.take(r.remaining());
        }
      },
      transport::MessageAborted);
  c.release(f);
  EXPECT_EQ(s.loop.control.large_busy.load(), 0u);
  // The next large message goes through.
  p.begin(1, 6, &wait);
  p.write(block.data(), block.size());
  p.commit();
  ASSERT_TRUE(c.try_read(f));
  EXPECT_EQ(f.tag(), 6u);
  auto r2 = f.reader();
  EXPECT_EQ(std::memcmp(r2.take(block.size()), block.data(), block.size()), 0);
  EXPECT_TRUE(r2.at_end());
  c.release(f);
}

// A reader that fails releases a streamed frame early; the writer goes on. What it writes
// after that must not stay allocated past what the channel keeps (kLargeKeep).
TEST(Channel, StreamedFrameReleasedEarlyKeepsNoMemoryPastTheKeep) {
  Streaming s;
  NoWait wait;
  std::vector<char> block(16u << 20, 'a');
  s.p.begin(1, 5, &wait);
  s.p.write(block.data(), block.size());
  transport::Frame f;
  ASSERT_TRUE(s.c.try_read(f));
  s.c.release(f);  // as when decoding it failed
  for (int i = 0; i < 20; ++i) {
    s.p.write(block.data(), block.size());  // 336 MiB in all
  }
  s.p.commit();
  struct stat st {};
  ASSERT_EQ(::fstat(s.loop.large.fd(), &st), 0);
  EXPECT_LE(static_cast<std::size_t>(st.st_blocks) * 512, transport::kLargeKeep + (4u << 20));
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
