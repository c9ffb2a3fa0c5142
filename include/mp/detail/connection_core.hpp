// The byte connection under mp::Connection: one end of a pipe between processes.
// Implemented in src/transport/connection_core.cpp.
//
// Messages travel through shared-memory queues (queue_core.hpp), one per direction. Whether
// the other end still exists is the kernel's to say: each end holds the write side of a
// pipe of its own and the read side of its peer's; nothing is ever written to them, and
// when every copy of an end is closed, in every process (an exit and a SIGKILL close them
// too), the peer's read side reports a hang-up. That is the count Python's Connection gets
// from its socket, forked children and descriptors handed to other processes included.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <utility>

#include <cereal/access.hpp>

#include "mp/detail/queue_core.hpp"
#include "mp/detail/shared_block.hpp"

namespace mp::detail {

class ConnectionCore {
 public:
  using Clock = std::chrono::steady_clock;

  ConnectionCore() = default;
  // The two ends of a new pipe: duplex, each sends and receives; otherwise the first only
  // receives and the second only sends (Python's Pipe(duplex=False)).
  static std::pair<ConnectionCore, ConnectionCore> make_pair(bool duplex);

  bool readable() const noexcept;
  bool writable() const noexcept;
  bool closed() const noexcept;
  // Closes this end in this process, for every copy of it here.
  void close() noexcept;

  // Throws mp::BrokenPipeError if the other end is gone, std::logic_error if this end is
  // closed or cannot send.
  void send(QueueCore::Encoder encode, const void* item);
  // The next message, or empty if none arrived before the deadline. Throws mp::EOFError
  // once the other end is gone and every message it sent was received.
  QueueCore::Taken recv(Clock::time_point deadline);
  // True if recv would not wait: a message is there, or the other end is gone.
  bool poll(Clock::time_point deadline);

  struct State;

 private:
  friend class cereal::access;
  template <class Archive>
  void save(Archive& ar) const {
    const Refs r = refs();
    ar(r.readable, r.writable, r.own, r.peer);
    if (r.readable) ar(incoming());
    if (r.writable) ar(outgoing());
  }
  template <class Archive>
  void load(Archive& ar) {
    Refs r;
    ar(r.readable, r.writable, r.own, r.peer);
    QueueCore in, out;
    if (r.readable) ar(in);
    if (r.writable) ar(out);
    attach(r, std::move(in), std::move(out));
  }

  // The liveness pipes' ends, as they travel.
  struct Refs {
    bool readable = false;
    bool writable = false;
    SharedFdRef own;   // the write side of this end's pipe
    SharedFdRef peer;  // the read side of the other end's pipe
  };
  Refs refs() const;
  const QueueCore& incoming() const;
  const QueueCore& outgoing() const;
  void attach(const Refs& r, QueueCore in, QueueCore out);

  std::shared_ptr<State> state_;
};

}  // namespace mp::detail
