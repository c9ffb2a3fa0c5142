// A multi-producer, multi-consumer queue of messages in one shared memory file:
//
//   [QueueControl][ring 0][ring 1] ...     only the newest ring is in use
//
// A message is [u64 length][bytes][padding to 8], written at the ring's tail. One writer
// at a time holds put_lock and publishes the tail only once the whole message is in, so a
// writer killed mid-message leaves nothing half-written; one reader at a time holds
// get_lock and moves the head only once it is done, so a reader killed mid-message leaves
// the message for the next one. Both locks notice a dead holder (shm/sync_words.hpp).
//
// put() encodes the item straight into the ring behind the tail, so a large item is
// copied once, not encoded into a buffer and then copied in. That holds as far as the ring
// has room without wrapping around its end or growing; a message that outgrows the room is
// finished in memory of its own and copied in. An encoder that throws halfway has written
// only behind the tail, where no reader looks.
//
// The ring grows instead of making a writer wait for room (put blocks only on maxsize, as
// in Python): the writer takes get_lock too, copies the live bytes into a new ring twice
// as large placed after the old one, and then switches to it (offset and size are read
// only under a lock, so no one sees one without the other). The old ring is untouched
// until then, so a writer killed while growing loses nothing; its pages are given back
// afterwards. Every process maps the file's whole reservation, so a ring another process
// added is already mapped here.
//
// The writer's and the reader's counters sit on separate cache lines: a putter touches the
// reader's line only to check maxsize, and a getter the writer's only to see the tail.
#include "mp/detail/queue_core.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

#include "mp/errors.hpp"
#include "shm/fd_refs.hpp"
#include "shm/sync_words.hpp"
#include "sys/doorbell.hpp"
#include "sys/futex.hpp"
#include "sys/interrupt.hpp"
#include "sys/shared_memory.hpp"

namespace mp::detail {
namespace {

constexpr std::size_t kHeaderBytes = 4096;
constexpr std::uint64_t kFirstRing = std::uint64_t{64} << 10;
// Address space each process reserves for a queue; the rings together stay below it.
constexpr std::size_t kReserve = std::size_t{1} << 38;
// The largest message: a ring of twice its size must fit beside the rings before it.
constexpr std::uint64_t kMaxMessage = std::uint64_t{1} << 35;
constexpr int kSpins = 2000;

// Each side's hot words on a line of its own, and each bell on its own line too: a ring()
// reads the sleeper's flag on every put or get, which costs nothing while that line is
// not written.
struct QueueControl {
  std::uint32_t maxsize = 0;
  std::uint32_t joinable = 0;
  // The ring in use: its offset in the file (past the header) and its size, a power of
  // two. Changed only with both locks held.
  std::atomic<std::uint64_t> ring_offset{kHeaderBytes};
  std::atomic<std::uint64_t> ring_size{kFirstRing};

  alignas(64) shm::LockWord put_lock;  // the writer's line
  std::atomic<std::uint64_t> put_count{0};
  std::uint64_t known_head = 0;  // the head as the writer last read it (under put_lock)
  // The published ends, each alone on its line: the other side polls it while it waits,
  // which would otherwise take the line from under its owner's lock and counts.
  alignas(64) std::atomic<std::uint64_t> tail{0};

  alignas(64) shm::LockWord get_lock;  // the reader's line
  std::atomic<std::uint64_t> taken_count{0};
  std::uint64_t known_tail = 0;  // the tail as the reader last read it (under get_lock)
  alignas(64) std::atomic<std::uint64_t> head{0};

  alignas(64) sys::Doorbell getters_bell;  // rung when a message is published
  alignas(64) sys::Doorbell putters_bell;  // rung when a message is taken (maxsize waits)
  alignas(64) std::atomic<std::uint32_t> unfinished{0};  // JoinableQueue
  sys::Doorbell joiners_bell;
};
static_assert(sizeof(QueueControl) <= kHeaderBytes);

std::uint64_t padded(std::uint64_t n) { return (n + 7) & ~std::uint64_t{7}; }

void throw_if_interrupted() {
  if (const int signal = sys::InterruptWatch::take(); signal != 0) {
    throw Interrupted(signal, "a wait on a shared queue");
  }
}

// Waits for `ready()` until the deadline: spins, then sleeps on `bell` in slices. Returns
// ready()'s last answer.
template <class Ready>
bool wait_on(sys::Doorbell& bell, QueueCore::Clock::time_point deadline, Ready ready) {
  for (int i = 0; i < kSpins; ++i) {
    if (ready()) {
      return true;
    }
    sys::cpu_relax();
  }
  sys::InterruptWatch watch;
  for (;;) {
    bell.prepare_sleep();
    if (ready()) {
      bell.cancel_sleep();
      return true;
    }
    const auto now = QueueCore::Clock::now();
    if (now >= deadline) {
      bell.cancel_sleep();
      return false;
    }
    bell.sleep(std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::min<QueueCore::Clock::duration>(deadline - now, shm::kLivenessSlice)));
    throw_if_interrupted();
  }
}

// Holds a lock of the queue; a dead previous holder left the queue consistent (see the
// top of this file), so taking over from it is not an error.
class QueueLock {
 public:
  QueueLock(shm::LockWord& word, QueueCore::Clock::time_point deadline) : word_(word) {
    held_ = word_.lock(deadline) != shm::LockResult::timed_out;
  }
  ~QueueLock() {
    if (held_) {
      word_.unlock();
    }
  }
  QueueLock(const QueueLock&) = delete;
  QueueLock& operator=(const QueueLock&) = delete;
  bool held() const noexcept { return held_; }
  void release() noexcept {
    if (held_) {
      word_.unlock();
      held_ = false;
    }
  }
  // Leaves the lock held after this guard is gone; someone else will unlock it.
  void hand_over() noexcept { held_ = false; }

 private:
  shm::LockWord& word_;
  bool held_ = false;
};

}  // namespace

struct QueueCore::State {
  sys::SharedMemory memory;
  SharedFdRef origin;
  QueueControl* control() const noexcept {
    return std::launder(reinterpret_cast<QueueControl*>(memory.data()));
  }
  std::byte* ring() const noexcept {
    return memory.data() + control()->ring_offset.load(std::memory_order_acquire);
  }
};

namespace {

void copy_in(std::byte* ring, std::uint64_t size, std::uint64_t pos, const void* src,
             std::uint64_t n) {
  const std::uint64_t at = pos & (size - 1);
  const std::uint64_t first = std::min(n, size - at);
  std::memcpy(ring + at, src, first);
  std::memcpy(ring, static_cast<const std::byte*>(src) + first, n - first);
}

void copy_out(const std::byte* ring, std::uint64_t size, std::uint64_t pos, void* dst,
              std::uint64_t n) {
  const std::uint64_t at = pos & (size - 1);
  const std::uint64_t first = std::min(n, size - at);
  std::memcpy(dst, ring + at, first);
  std::memcpy(static_cast<std::byte*>(dst) + first, ring, n - first);
}

// With put_lock held: makes the ring large enough for `need` more bytes.
void grow(QueueCore::State& s, std::uint64_t need) {
  QueueControl& c = *s.control();
  QueueLock readers(c.get_lock, QueueCore::Clock::time_point::max());
  const std::uint64_t head = c.head.load(std::memory_order_acquire);
  const std::uint64_t tail = c.tail.load(std::memory_order_relaxed);
  const std::uint64_t old_size = c.ring_size.load(std::memory_order_relaxed);
  const std::uint64_t old_offset = c.ring_offset.load(std::memory_order_relaxed);
  c.known_head = head;
  if (tail - head + need <= old_size) {
    return;  // a reader made room meanwhile
  }
  std::uint64_t size = old_size * 2;
  while (tail - head + need > size) {
    size *= 2;
  }
  const std::uint64_t offset = old_offset + old_size;
  if (offset + size > kReserve) {
    throw std::length_error("mp: a queue cannot hold " + std::to_string(tail - head + need) +
                            " bytes at once");
  }
  if (offset + size > s.memory.size()) {
    s.memory.resize(offset + size);
  }
  // The new ring's pages in one call, as huge pages where the kernel allows, instead of a
  // fault per 4 KiB page as the live bytes and the next messages are copied in: growing
  // is what makes a burst of large messages slow.
  s.memory.prefault(offset, size, true);
  std::byte* old_ring = s.memory.data() + old_offset;
  std::byte* ring = s.memory.data() + offset;
  for (std::uint64_t pos = head; pos != tail;) {
    const std::uint64_t at = pos & (old_size - 1);
    const std::uint64_t n = std::min(tail - pos, old_size - at);
    copy_in(ring, size, pos, old_ring + at, n);
    pos += n;
  }
  // Offset and size change together as far as any lock holder can tell: readers and
  // writers read them only with a lock, and this thread holds both.
  c.ring_offset.store(offset, std::memory_order_release);
  c.ring_size.store(size, std::memory_order_release);
  s.memory.discard(old_offset, old_size);
}

// With put_lock held: copies a message that was encoded outside the ring in at `tail`
// (the length word and the bytes), growing the ring first if it lacks room.
void append(QueueCore::State& s, std::uint64_t tail, std::span<const std::byte> message) {
  if (message.size() > kMaxMessage) {
    throw std::length_error("mp: a message of " + std::to_string(message.size()) +
                            " bytes is larger than a queue can hold (" +
                            std::to_string(kMaxMessage) + ")");
  }
  QueueControl& c = *s.control();
  const std::uint64_t length = message.size();
  const std::uint64_t need = sizeof length + padded(length);
  if (tail - c.known_head + need > c.ring_size.load(std::memory_order_relaxed)) {
    c.known_head = c.head.load(std::memory_order_acquire);
    if (tail - c.known_head + need > c.ring_size.load(std::memory_order_relaxed)) {
      grow(s, need);
    }
  }
  std::byte* ring = s.ring();
  const std::uint64_t size = c.ring_size.load(std::memory_order_relaxed);
  copy_in(ring, size, tail, &length, sizeof length);
  copy_in(ring, size, tail + sizeof length, message.data(), length);
}

// Encodes a message in place: right after its length word at the ring's tail, as far as
// the ring has room without wrapping around its end. A message that outgrows that room
// (after a fresh look at how far readers have got) moves to memory of its own, to be
// copied in by append(), which grows the ring if needed. The ring itself is not touched
// beyond the tail, so nothing is seen until the caller publishes the new tail.
class MessageWriter final : public Writer {
 public:
  MessageWriter(QueueControl& c, std::byte* ring, std::uint64_t ring_size, std::uint64_t tail)
      : control_(c), ring_size_(ring_size), tail_(tail) {
    begin_ = cur_ = ring + ((tail + sizeof(std::uint64_t)) & (ring_size - 1));
    end_ = begin_ + room();
  }
  // True if the message lies in the ring with room for its length word before it (an
  // empty message needs that room too, which a full ring lacks).
  bool in_place() const noexcept {
    return !heap_ && tail_ - control_.known_head + sizeof(std::uint64_t) <= ring_size_;
  }
  const std::byte* data() const noexcept { return begin_; }

 private:
  // Bytes the message may take in place: up to the ring's end, and within what readers
  // have freed as far as the writer knows.
  std::uint64_t room() const noexcept {
    const std::uint64_t at = (tail_ + sizeof(std::uint64_t)) & (ring_size_ - 1);
    const std::uint64_t free = ring_size_ - (tail_ - control_.known_head);
    return std::min(ring_size_ - at,
                    free > sizeof(std::uint64_t) ? free - sizeof(std::uint64_t) : 0);
  }

  void overflow(std::size_t n) override {
    const std::size_t used = size();
    if (!heap_) {
      control_.known_head = control_.head.load(std::memory_order_acquire);
      end_ = begin_ + room();
      if (n <= static_cast<std::size_t>(end_ - cur_)) {
        return;
      }
    }
    const std::size_t capacity = std::max(capacity_ * 2, used + n + 64);
    auto bigger = std::make_unique_for_overwrite<std::byte[]>(capacity);
    std::memcpy(bigger.get(), begin_, used);
    heap_ = std::move(bigger);
    capacity_ = capacity;
    begin_ = heap_.get();
    cur_ = begin_ + used;
    end_ = begin_ + capacity;
  }

  QueueControl& control_;
  std::uint64_t ring_size_;
  std::uint64_t tail_;
  std::unique_ptr<std::byte[]> heap_;
  std::size_t capacity_ = 0;
};

}  // namespace

QueueCore::QueueCore(std::size_t maxsize, bool joinable) : state_(std::make_shared<State>()) {
  if (maxsize > 0xffffffffu) {
    throw std::invalid_argument("mp: a queue's maxsize must be below 2^32, not " +
                                std::to_string(maxsize));
  }
  state_->memory = sys::SharedMemory("mp-queue", kHeaderBytes + kFirstRing, kReserve);
  state_->origin = shm::origin_of_new(state_->memory.fd());
  QueueControl* c = new (state_->memory.data()) QueueControl();
  c->maxsize = static_cast<std::uint32_t>(maxsize);
  c->joinable = joinable ? 1 : 0;
}

QueueCore::PutResult QueueCore::put(Encoder encode, const void* item, Clock::time_point deadline) {
  State& s = *state_;
  QueueControl& c = *s.control();
  QueueLock writers(c.put_lock, deadline);
  if (!writers.held()) {
    return PutResult::full;
  }
  const std::uint64_t count = c.put_count.load(std::memory_order_relaxed);
  if (c.maxsize != 0 && count - c.taken_count.load(std::memory_order_acquire) >= c.maxsize &&
      !wait_on(c.putters_bell, deadline,
               [&] { return count - c.taken_count.load(std::memory_order_acquire) < c.maxsize; })) {
    return PutResult::full;
  }
  const std::uint64_t tail = c.tail.load(std::memory_order_relaxed);
  std::byte* const ring = s.ring();
  const std::uint64_t ring_size = c.ring_size.load(std::memory_order_relaxed);
  MessageWriter w(c, ring, ring_size, tail);
  encode(w, item);
  const std::uint64_t length = w.size();
  if (w.in_place()) {
    std::memcpy(ring + (tail & (ring_size - 1)), &length, sizeof length);
  } else {
    append(s, tail, {w.data(), length});
  }
  if (c.joinable != 0) {
    c.unfinished.fetch_add(1, std::memory_order_relaxed);
  }
  c.tail.store(tail + sizeof length + padded(length), std::memory_order_release);
  c.put_count.store(count + 1, std::memory_order_release);
  writers.release();
  c.getters_bell.ring_after_exchange();  // the release above was one
  return PutResult::ok;
}

QueueCore::Taken QueueCore::get(Clock::time_point deadline) const {
  State& s = *state_;
  QueueControl& c = *s.control();
  const auto readable = [&c] {
    return c.tail.load(std::memory_order_acquire) != c.head.load(std::memory_order_relaxed);
  };
  for (;;) {
    {
      QueueLock readers(c.get_lock, deadline);
      if (!readers.held()) {
        return {};
      }
      const std::uint64_t head = c.head.load(std::memory_order_relaxed);
      if (c.known_tail == head) {
        c.known_tail = c.tail.load(std::memory_order_acquire);
      }
      if (c.known_tail != head) {
        const std::byte* ring = s.ring();
        const std::uint64_t size = c.ring_size.load(std::memory_order_relaxed);
        std::uint64_t length = 0;  // positions are multiples of 8: it never wraps
        std::memcpy(&length, ring + (head & (size - 1)), sizeof length);
        Taken t;
        const std::uint64_t at = (head + sizeof length) & (size - 1);
        if (at + length <= size) {
          t.bytes_ = {ring + at, length};
        } else {
          t.copy_ = std::make_unique<std::byte[]>(length);
          copy_out(ring, size, head + sizeof length, t.copy_.get(), length);
          t.bytes_ = {t.copy_.get(), length};
        }
        t.end_ = head + sizeof length + padded(length);
        t.core_ = this;
        readers.hand_over();  // to the Taken: finish_get() unlocks
        return t;
      }
    }
    // Empty: wait without the lock, which a writer growing the ring needs.
    if (!wait_on(c.getters_bell, deadline, readable)) {
      return {};
    }
  }
}

bool QueueCore::wait_readable(Clock::time_point deadline) const {
  QueueControl& c = *state_->control();
  return wait_on(c.getters_bell, deadline, [&c] {
    return c.tail.load(std::memory_order_acquire) != c.head.load(std::memory_order_relaxed);
  });
}

void QueueCore::finish_get(const Taken& t) const noexcept {
  QueueControl& c = *state_->control();
  c.head.store(t.end_, std::memory_order_release);
  // One reader at a time: get_lock orders the counts.
  c.taken_count.store(c.taken_count.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  c.get_lock.unlock();
  if (c.maxsize != 0) {
    c.putters_bell.ring_after_exchange();  // the unlock was one
  }
}

QueueCore::Taken::Taken(Taken&& o) noexcept
    : core_(std::exchange(o.core_, nullptr)),
      bytes_(o.bytes_),
      copy_(std::move(o.copy_)),
      end_(o.end_) {}

QueueCore::Taken::~Taken() {
  if (core_ != nullptr) {
    core_->finish_get(*this);
  }
}

std::size_t QueueCore::qsize() const noexcept {
  const QueueControl& c = *state_->control();
  const std::uint64_t taken = c.taken_count.load(std::memory_order_acquire);
  return static_cast<std::size_t>(c.put_count.load(std::memory_order_acquire) - taken);
}

std::size_t QueueCore::maxsize() const noexcept { return state_->control()->maxsize; }

void QueueCore::task_done() const {
  QueueControl& c = *state_->control();
  std::uint32_t n = c.unfinished.load(std::memory_order_relaxed);
  do {
    if (n == 0) {
      throw std::logic_error("mp: JoinableQueue::task_done() called more times than put()");
    }
  } while (!c.unfinished.compare_exchange_weak(n, n - 1, std::memory_order_acq_rel,
                                               std::memory_order_relaxed));
  if (n == 1) {
    c.joiners_bell.ring();
  }
}

bool QueueCore::join(Clock::time_point deadline) const {
  QueueControl& c = *state_->control();
  return wait_on(c.joiners_bell, deadline,
                 [&c] { return c.unfinished.load(std::memory_order_acquire) == 0; });
}

SharedFdRef QueueCore::ref() const {
  if (!state_) {
    throw std::logic_error("mp: sending a queue that was moved from");
  }
  return shm::make_ref(state_->memory.fd(), state_->origin);
}

void QueueCore::attach(const SharedFdRef& r) {
  auto s = std::make_shared<State>();
  s->memory = sys::SharedMemory(shm::open_ref(r), kReserve);
  s->origin = r;
  if (s->memory.size() < kHeaderBytes + kFirstRing) {
    throw SerializationError("mp: a received queue's memory is smaller than a queue");
  }
  state_ = std::move(s);
}

}  // namespace mp::detail
