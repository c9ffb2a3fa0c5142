// One direction of a byte channel between two processes: a single-producer,
// single-consumer ring of frames in shared memory, plus a shared buffer for messages too
// large for the ring.
//
//   producer                                   consumer
//   begin(tag) -> Writer: bytes go straight into the ring
//     (past kInlineLimit the bytes so far move to the large buffer and writing goes on there)
//   commit(): publish tail, ring consumer's bell   try_read(): header at head -> Frame
//                                                  ... decode from Frame::reader() ...
//                                                  release(): advance head, ring producer's bell
//
// Frames never wrap: a frame that would cross the end of the ring is preceded by padding.
// At most one large message per direction is in flight; the producer waits for the
// consumer to release it before reusing the buffer. The transport knows nothing of tasks:
// a frame carries a 64-bit tag and a kind chosen by its users.
//
// Before the producer copies a block of kComingNotice bytes or more into the large buffer,
// it posts a notice (frame tag, block size) and rings the consumer's bell: a consumer that
// will need fresh memory for the block can fault it in while the copy runs.
//
// A streaming producer (set_streaming) publishes a large message as soon as it moves to
// the large buffer, and then every kStreamStep bytes: the consumer reads it while it is
// written, so the two copies of a large message run at the same time on two cores. Its
// Frame's Reader waits for bytes that have not arrived (through the consumer's
// ConsumerWait) and throws MessageAborted if the producer gives the message up. A
// streaming producer's users write front to back: no patch() of published bytes.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "mp/detail/bytes.hpp"
#include "sys/doorbell.hpp"
#include "sys/shared_memory.hpp"

namespace mp::transport {

// Tunables. kRingBytes and kInlineLimit keep a default-chunksize map chunk of a million
// ints (500 KB) inline; see BENCHMARKS.md (map throughput).
inline constexpr std::size_t kRingBytes = std::size_t{4} << 20;
inline constexpr std::size_t kInlineLimit = std::size_t{1} << 20;
// Virtual size of a large-message mapping: the largest message a channel can carry. The
// buffer's file is made this large by its creator (its pages exist only once written), so
// that neither side needs its descriptor afterwards: see large_buffer_size().
inline constexpr std::size_t kLargeReserve = std::size_t{1} << 36;
// Large-message pages beyond this are returned to the system after each message. Below
// it they stay mapped: touching fresh pages costs ~20 us each on the VMs we measure
// (0.3 GB/s), so a reused buffer is what makes repeated large payloads fast. Each side
// maps the pages it has not used yet in one call before it touches them.
inline constexpr std::size_t kLargeKeep = std::size_t{256} << 20;
// Blocks from this size on are announced before they are written (see above).
inline constexpr std::size_t kComingNotice = std::size_t{8} << 20;
// A streaming producer publishes its progress every this many bytes.
inline constexpr std::size_t kStreamStep = std::size_t{1} << 20;

// Shared state of one channel; lives in shared memory, zero-initialised.
struct ChannelControl {
  alignas(64) std::atomic<std::uint64_t> tail{0};        // written by the producer
  alignas(64) std::atomic<std::uint64_t> head{0};        // written by the consumer
  alignas(64) std::atomic<std::uint32_t> large_busy{0};  // 1 while a large message is unread
  // The notice of a block being written: its frame's tag, and its size (0: none).
  std::atomic<std::uint64_t> coming_tag{0};
  std::atomic<std::uint64_t> coming_bytes{0};
  // The large message: bytes written so far (final once complete), and its state.
  alignas(64) std::atomic<std::uint64_t> large_written{0};
  std::atomic<std::uint32_t> large_state{0};
};
inline constexpr std::uint32_t kLargeWriting = 1;
inline constexpr std::uint32_t kLargeComplete = 2;
inline constexpr std::uint32_t kLargeAborted = 3;

struct FrameHeader {
  std::uint64_t tag;
  std::uint64_t size;
  std::uint32_t kind;
  std::uint32_t large;  // kInRing, kInLarge or kStreamed
};
inline constexpr std::uint32_t kPadFrame = 0xFFFFFFFFu;
inline constexpr std::uint32_t kInRing = 0;
inline constexpr std::uint32_t kInLarge = 1;   // complete when published
inline constexpr std::uint32_t kStreamed = 2;  // published while written: see large_state

// A streamed message its producer gave up (its writer threw) before completing it.
class MessageAborted : public std::runtime_error {
 public:
  MessageAborted() : std::runtime_error("mp: the sender gave this message up") {}
};

// What a consumer does while a streamed message it reads is still being written: returns
// once `more(ctx)` is true, spinning or sleeping on its bell (which the producer rings
// each time it publishes), or throws if it must stop waiting.
class ConsumerWait {
 public:
  virtual void wait_for_producer(bool (*more)(const void*), const void* ctx) = 0;

 protected:
  ~ConsumerWait() = default;
};

// What a producer does while it waits for the consumer (to free ring space or the large
// buffer): the parent keeps draining results, a worker sleeps.
class ProducerWait {
 public:
  virtual void wait_for_consumer() = 0;

 protected:
  ~ProducerWait() = default;
};

struct ChannelMemory {
  ChannelControl* control = nullptr;
  std::byte* ring = nullptr;  // kRingBytes
  sys::SharedMemory* large = nullptr;
  sys::Doorbell* consumer_bell = nullptr;  // rung after commit
  sys::Doorbell* producer_bell = nullptr;  // rung after release
};

class ChannelProducer final : public detail::Writer {
 public:
  ChannelProducer() = default;
  explicit ChannelProducer(ChannelMemory mem) : mem_(mem) {}

  // True when a frame of up to kInlineLimit bytes can be started without waiting.
  bool has_room() const noexcept;
  // True when no frame the consumer has not released holds the large buffer, so that a
  // frame of any size can be written without waiting.
  bool large_free() const noexcept {
    return mem_.control->large_busy.load(std::memory_order_acquire) == 0;
  }
  // Starts a frame; requires has_room().
  void begin(std::uint32_t kind, std::uint64_t tag, ProducerWait* wait);
  // Publishes the frame. With `wake`, rings the consumer's bell if it sleeps; without,
  // the consumer finds the frame when it next looks (its owner decides when that must be
  // prompt, and calls wake_consumer()).
  void commit(bool wake = true);
  void wake_consumer() noexcept { mem_.consumer_bell->ring(); }
  // Where the frames committed so far end, and whether the consumer has released every
  // frame up to such a point.
  std::uint64_t committed_end() const noexcept {
    return mem_.control->tail.load(std::memory_order_relaxed);
  }
  bool released_up_to(std::uint64_t end) const noexcept {
    return mem_.control->head.load(std::memory_order_acquire) >= end;
  }
  // Drops the frame being written: the consumer never sees it, or, if it was already
  // published by streaming, reading it throws MessageAborted.
  void abort() noexcept;
  // Publishes large messages while they are written (see the top of this file).
  void set_streaming(bool on) noexcept { streaming_ = on; }

 private:
  void overflow(std::size_t n) override;
  void publish_progress();
  void discard_if_released(std::size_t written) noexcept;

  ChannelMemory mem_;
  ProducerWait* wait_ = nullptr;
  FrameHeader* header_ = nullptr;
  bool in_large_ = false;
  bool streaming_ = false;
  bool published_ = false;        // the frame being written is visible to the consumer
  std::size_t large_mapped_ = 0;  // bytes of the large buffer prefaulted in this process
  std::size_t large_extent_ = 0;  // bytes of the large buffer the writer may fill unasked
};

class Frame {
 public:
  std::uint64_t tag() const { return tag_; }
  std::uint32_t kind() const { return kind_; }
  detail::Reader reader() const { return detail::Reader(data_, size_, stream_); }
  // Bytes of the payload (of a streamed frame: those that had arrived at try_read).
  std::size_t size() const { return size_; }

 private:
  friend class ChannelConsumer;
  std::uint64_t tag_ = 0;
  std::uint32_t kind_ = 0;
  bool large_ = false;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
  std::uint64_t length_ = 0;  // ring bytes taken
  bool streamed_ = false;
  detail::ReaderSource* stream_ = nullptr;  // a streamed frame still being written
};

class ChannelConsumer final : private detail::ReaderSource {
 public:
  ChannelConsumer() = default;
  // `wait` is needed to read streamed frames (a streaming producer's).
  explicit ChannelConsumer(ChannelMemory mem, ConsumerWait* wait = nullptr)
      : mem_(mem), wait_(wait) {}
  // Frames being read point at it.
  ChannelConsumer(const ChannelConsumer&) = delete;
  ChannelConsumer& operator=(const ChannelConsumer&) = delete;

  bool readable() const noexcept {
    return mem_.control->tail.load(std::memory_order_acquire) !=
           mem_.control->head.load(std::memory_order_relaxed);
  }
  // The frame at the head, if any. It stays valid until release().
  bool try_read(Frame& f) noexcept;
  // Frees the frame's space; with `wake`, rings the producer's bell if it sleeps.
  void release(const Frame& f, bool wake = true) noexcept;
  // Takes the producer's notice of a large block it is writing into a frame not yet
  // committed, if there is one: the frame's tag and the block's size in bytes.
  bool take_coming(std::uint64_t& tag, std::uint64_t& bytes) noexcept;

 private:
  std::size_t wait_beyond(std::size_t have) override;
  void prefault_large(std::size_t size) noexcept;

  ChannelMemory mem_;
  ConsumerWait* wait_ = nullptr;
  std::size_t large_mapped_ = 0;  // bytes of the large buffer prefaulted in this process
};

// The size a channel's large buffer is created with: kLargeReserve, or less where the
// process's file size limit (RLIMIT_FSIZE) is lower.
std::size_t large_buffer_size() noexcept;

// Puts a channel back to empty; only while neither side is using it.
void reset_channel(ChannelMemory mem) noexcept;

}  // namespace mp::transport
