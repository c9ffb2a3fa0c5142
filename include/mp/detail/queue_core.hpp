// The byte queue under mp::Queue: any number of processes put and get messages of any
// size. Implemented in src/transport/queue_core.cpp; the ring and its locks live in an
// anonymous shared memory file, which travels as include/mp/detail/shared_block.hpp says.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include <cereal/access.hpp>

#include "mp/detail/bytes.hpp"
#include "mp/detail/shared_block.hpp"

namespace mp::detail {

class QueueCore {
 public:
  using Clock = std::chrono::steady_clock;

  QueueCore() = default;
  // maxsize: the most messages it holds (0: no limit). joinable: counts unfinished tasks.
  QueueCore(std::size_t maxsize, bool joinable);

  enum class PutResult { ok, full };
  // Writes one message's bytes: `item`, encoded.
  using Encoder = void (*)(Writer& out, const void* item);
  // Appends one message, waiting until the deadline for room when the queue is at its
  // maxsize. The message is encoded straight into the queue's memory where it fits there
  // without growing it or wrapping around its end, so a large item is copied once. An
  // encoder that throws leaves the queue as it was. Throws std::length_error for a message
  // larger than a queue can hold.
  PutResult put(Encoder encode, const void* item, Clock::time_point deadline);

  // A message being read: its bytes stay valid until the Taken is destroyed, which removes
  // the message from the queue (also when decoding it threw: a message that cannot be
  // decoded would otherwise block the queue for everyone).
  class Taken {
   public:
    Taken() = default;
    Taken(Taken&& o) noexcept;
    Taken& operator=(Taken&&) = delete;
    ~Taken();
    std::span<const std::byte> bytes() const noexcept { return bytes_; }
    explicit operator bool() const noexcept { return core_ != nullptr; }

   private:
    friend class QueueCore;
    const QueueCore* core_ = nullptr;
    std::span<const std::byte> bytes_;
    std::unique_ptr<std::byte[]> copy_;  // a message that wraps around the ring's end
    std::uint64_t end_ = 0;
  };
  // The oldest message; empty (false) if none arrived before the deadline.
  Taken get(Clock::time_point deadline) const;

  // True once a message is there to get, false if none came before the deadline.
  bool wait_readable(Clock::time_point deadline) const;

  std::size_t qsize() const noexcept;
  std::size_t maxsize() const noexcept;
  void task_done() const;
  // False if tasks were still unfinished at the deadline.
  bool join(Clock::time_point deadline) const;

  struct State;  // the mapping, defined with the implementation

 private:
  friend class cereal::access;
  template <class Archive>
  void save(Archive& ar) const {
    ar(ref());
  }
  template <class Archive>
  void load(Archive& ar) {
    SharedFdRef r;
    ar(r);
    attach(r);
  }
  SharedFdRef ref() const;
  void attach(const SharedFdRef& r);
  void finish_get(const Taken& t) const noexcept;

  std::shared_ptr<State> state_;
};

}  // namespace mp::detail
