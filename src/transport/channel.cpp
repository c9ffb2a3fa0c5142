#include "transport/channel.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace mp::transport {
namespace {

constexpr std::size_t kHeader = sizeof(FrameHeader);
constexpr std::size_t align8(std::size_t n) { return (n + 7) & ~std::size_t{7}; }

static_assert(kHeader % 8 == 0 && kRingBytes % 8 == 0);
static_assert(kInlineLimit + 2 * kHeader <= kRingBytes / 2);

// Contiguous bytes a frame needs at the producer's position, including padding to wrap.
std::size_t bytes_needed(std::uint64_t tail) {
  const std::size_t pos = tail % kRingBytes;
  const std::size_t to_end = kRingBytes - pos;
  const std::size_t frame = kHeader + kInlineLimit;
  return to_end >= frame ? frame : to_end + frame;
}

}  // namespace

bool ChannelProducer::has_room() const noexcept {
  const std::uint64_t tail = mem_.control->tail.load(std::memory_order_relaxed);
  const std::uint64_t head = mem_.control->head.load(std::memory_order_acquire);
  return kRingBytes - (tail - head) >= bytes_needed(tail);
}

void ChannelProducer::begin(std::uint32_t kind, std::uint64_t tag, ProducerWait* wait) {
  wait_ = wait;
  std::uint64_t tail = mem_.control->tail.load(std::memory_order_relaxed);
  std::size_t pos = tail % kRingBytes;
  if (kRingBytes - pos < kHeader + kInlineLimit) {
    // Pad to the end of the ring; the consumer skips the padding. A remainder smaller
    // than a header is skipped implicitly.
    if (kRingBytes - pos >= kHeader) {
      auto* pad = reinterpret_cast<FrameHeader*>(mem_.ring + pos);
      *pad = FrameHeader{0, kRingBytes - pos - kHeader, kPadFrame, 0};
    }
    tail += kRingBytes - pos;
    mem_.control->tail.store(tail, std::memory_order_release);
    pos = 0;
  }
  // The consumer returns large-buffer pages past kLargeKeep after each message.
  large_mapped_ = std::min(large_mapped_, kLargeKeep);
  header_ = reinterpret_cast<FrameHeader*>(mem_.ring + pos);
  header_->tag = tag;
  header_->kind = kind;
  header_->large = kInRing;
  begin_ = mem_.ring + pos + kHeader;
  cur_ = begin_;
  end_ = begin_ + kInlineLimit;
  in_large_ = false;
  published_ = false;
}

void ChannelProducer::overflow(std::size_t n) {
  const std::size_t used = size();
  sys::SharedMemory& large = *mem_.large;
  ChannelControl& c = *mem_.control;
  if (!in_large_) {
    while (c.large_busy.load(std::memory_order_acquire) != 0) {
      wait_->wait_for_consumer();
    }
  }
  if (used + n > large.size()) {
    throw std::length_error("mp: a message of more than " + std::to_string(large.size()) +
                            " bytes, the transport's limit");
  }
  // The writer may run on to the end of the extent before it asks again.
  std::size_t extent = std::max<std::size_t>(large_extent_, std::size_t{1} << 20);
  while (extent < used + n) {
    extent *= 2;
  }
  large_extent_ = std::min(extent, large.size());
  if (used + n > large_mapped_) {
    large.prefault(large_mapped_, used + n - large_mapped_, true);
    large_mapped_ = used + n;
  }
  if (!in_large_) {
    std::memcpy(large.data(), begin_, used);
    in_large_ = true;
  }
  begin_ = large.data();
  cur_ = begin_ + used;
  end_ = begin_ + large_extent_;
  if (streaming_) {
    publish_progress();
    // Come back after the next step to publish again.
    end_ = std::min(end_, cur_ + kStreamStep);
  } else if (n >= kComingNotice) {
    c.coming_tag.store(header_->tag, std::memory_order_relaxed);
    c.coming_bytes.store(n, std::memory_order_release);
    mem_.consumer_bell->ring();
  }
}

// A consumer that gave a streamed frame up released it early and returned the pages
// written so far past kLargeKeep; the pages written since then are returned here.
void ChannelProducer::discard_if_released(std::size_t written) noexcept {
  if (mem_.control->large_busy.load(std::memory_order_acquire) == 0 && written > kLargeKeep) {
    mem_.large->discard(kLargeKeep, written - kLargeKeep);
    large_mapped_ = std::min(large_mapped_, kLargeKeep);
  }
}

void ChannelProducer::publish_progress() {
  ChannelControl& c = *mem_.control;
  if (!published_) {
    // The frame goes out now, its bytes to follow; the header stays as written here.
    header_->large = kStreamed;
    header_->size = 0;
    c.large_written.store(size(), std::memory_order_relaxed);
    c.large_state.store(kLargeWriting, std::memory_order_relaxed);
    c.large_busy.store(1, std::memory_order_relaxed);
    c.tail.store(c.tail.load(std::memory_order_relaxed) + kHeader, std::memory_order_release);
    published_ = true;
  } else {
    c.large_written.store(size(), std::memory_order_release);
  }
  mem_.consumer_bell->ring();
}

void ChannelProducer::commit(bool wake) {
  const std::size_t used = size();
  ChannelControl& c = *mem_.control;
  if (published_) {
    // Release both: a consumer may see the count before it sees the state.
    c.large_written.store(used, std::memory_order_release);
    c.large_state.store(kLargeComplete, std::memory_order_release);
    wake = true;  // the consumer may be waiting in the middle of this message
    discard_if_released(used);
  } else {
    header_->size = used;
    std::uint64_t tail = c.tail.load(std::memory_order_relaxed);
    if (in_large_) {
      header_->large = kInLarge;
      c.large_busy.store(1, std::memory_order_relaxed);
      tail += kHeader;
    } else {
      tail += align8(kHeader + used);
    }
    c.tail.store(tail, std::memory_order_release);
  }
  begin_ = cur_ = end_ = nullptr;
  in_large_ = published_ = false;
  if (wake) {
    mem_.consumer_bell->ring();
  }
}

void ChannelProducer::abort() noexcept {
  if (published_) {
    ChannelControl& c = *mem_.control;
    c.large_written.store(size(), std::memory_order_release);
    c.large_state.store(kLargeAborted, std::memory_order_release);
    mem_.consumer_bell->ring();
    discard_if_released(size());
  }
  in_large_ = published_ = false;
  begin_ = cur_ = end_ = nullptr;
}

bool ChannelConsumer::try_read(Frame& f) noexcept {
  ChannelControl& c = *mem_.control;
  std::uint64_t head = c.head.load(std::memory_order_relaxed);
  for (;;) {
    const std::uint64_t tail = c.tail.load(std::memory_order_acquire);
    if (head == tail) {
      return false;
    }
    const std::size_t pos = head % kRingBytes;
    const std::size_t to_end = kRingBytes - pos;
    if (to_end < kHeader) {
      head += to_end;
      c.head.store(head, std::memory_order_release);
      continue;
    }
    const auto* h = reinterpret_cast<const FrameHeader*>(mem_.ring + pos);
    if (h->kind == kPadFrame) {
      head += to_end;
      c.head.store(head, std::memory_order_release);
      continue;
    }
    f.tag_ = h->tag;
    f.kind_ = h->kind;
    f.size_ = h->size;
    f.large_ = h->large != kInRing;
    f.streamed_ = h->large == kStreamed;
    f.stream_ = nullptr;
    if (f.streamed_) {
      const std::uint32_t state = c.large_state.load(std::memory_order_acquire);
      f.size_ = c.large_written.load(std::memory_order_acquire);
      if (state != kLargeComplete) {
        f.stream_ = this;
      }
    }
    if (f.large_) {
      f.data_ = mem_.large->data();
      f.length_ = kHeader;
      prefault_large(f.size_);
    } else {
      f.data_ = mem_.ring + pos + kHeader;
      f.length_ = align8(kHeader + h->size);
    }
    return true;
  }
}

void ChannelConsumer::release(const Frame& f, bool wake) noexcept {
  ChannelControl& c = *mem_.control;
  if (f.large_) {
    // A streamed frame may be released before it is complete (its reader failed): the
    // producer goes on writing it, and nobody reads it.
    const std::size_t size =
        f.streamed_ ? c.large_written.load(std::memory_order_acquire) : f.size_;
    if (size > kLargeKeep) {
      mem_.large->discard(kLargeKeep, size - kLargeKeep);
      large_mapped_ = std::min(large_mapped_, kLargeKeep);
    }
    c.large_busy.store(0, std::memory_order_release);
  }
  c.head.store(c.head.load(std::memory_order_relaxed) + f.length_, std::memory_order_release);
  if (wake) {
    mem_.producer_bell->ring();
  }
}

bool ChannelConsumer::take_coming(std::uint64_t& tag, std::uint64_t& bytes) noexcept {
  ChannelControl& c = *mem_.control;
  if (c.coming_bytes.load(std::memory_order_relaxed) == 0) {
    return false;
  }
  bytes = c.coming_bytes.exchange(0, std::memory_order_acquire);
  // A later notice may replace the tag meanwhile; the consumer checks the pair against
  // what it expects, and a stale pair only costs a preparation that goes unused.
  tag = c.coming_tag.load(std::memory_order_relaxed);
  return bytes != 0;
}

std::size_t ChannelConsumer::wait_beyond(std::size_t have) {
  struct Progress {
    const ChannelControl* control;
    std::size_t have;
    static bool more(const void* p) {
      const auto& x = *static_cast<const Progress*>(p);
      return x.control->large_state.load(std::memory_order_acquire) != kLargeWriting ||
             x.control->large_written.load(std::memory_order_acquire) > x.have;
    }
  };
  const ChannelControl& c = *mem_.control;
  const Progress progress{&c, have};
  while (!Progress::more(&progress)) {
    if (wait_ == nullptr) {
      throw std::logic_error(
          "mp: internal error: a streamed message reached a consumer that cannot wait");
    }
    wait_->wait_for_producer(&Progress::more, &progress);
  }
  const std::uint32_t state = c.large_state.load(std::memory_order_acquire);
  if (state == kLargeAborted) {
    throw MessageAborted();
  }
  const std::size_t written = c.large_written.load(std::memory_order_acquire);
  prefault_large(written);
  return written;
}

void ChannelConsumer::prefault_large(std::size_t size) noexcept {
  if (size > large_mapped_) {
    mem_.large->prefault(large_mapped_, size - large_mapped_, false);
    large_mapped_ = size;
  }
}

std::size_t large_buffer_size() noexcept {
  rlimit limit{};
  if (::getrlimit(RLIMIT_FSIZE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
      limit.rlim_cur < kLargeReserve) {
    return static_cast<std::size_t>(limit.rlim_cur);
  }
  return kLargeReserve;
}

void reset_channel(ChannelMemory mem) noexcept {
  mem.control->head.store(0, std::memory_order_relaxed);
  mem.control->tail.store(0, std::memory_order_relaxed);
  mem.control->large_busy.store(0, std::memory_order_relaxed);
  mem.control->coming_bytes.store(0, std::memory_order_relaxed);
  mem.control->large_written.store(0, std::memory_order_relaxed);
  mem.control->large_state.store(0, std::memory_order_relaxed);
}

}  // namespace mp::transport
