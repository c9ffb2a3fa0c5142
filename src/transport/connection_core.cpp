#include "mp/detail/connection_core.hpp"

#include <poll.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <string>

#include "mp/errors.hpp"
#include "shm/fd_refs.hpp"
#include "sys/fork_private_fds.hpp"
#include "sys/unique_fd.hpp"

namespace mp::detail {
namespace {

// How often a waiting recv looks whether the other end is gone (a clean close and a kill
// alike show only in the liveness pipe, which the queue's wait does not watch), and how
// often send does.
constexpr std::chrono::milliseconds kPeerCheck{10};

}  // namespace

struct ConnectionCore::State {
  QueueCore in;   // empty when this end cannot receive
  QueueCore out;  // empty when this end cannot send
  bool readable = false;
  bool writable = false;
  sys::UniqueFd own;   // write side of this end's liveness pipe
  sys::UniqueFd peer;  // read side of the other end's
  SharedFdRef own_origin;
  SharedFdRef peer_origin;
  bool closed = false;
  // Atomic: threads may share an end (each message is still sent and received whole).
  std::atomic<bool> peer_gone{false};
  std::atomic<Clock::rep> next_check{0};  // when send next asks about the peer

  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() { release(); }

  // Takes the liveness descriptors. A child forked later holds them only if it is given
  // this end (sys/fork_private_fds.hpp).
  void adopt(sys::UniqueFd own_fd, sys::UniqueFd peer_fd) {
    own = std::move(own_fd);
    peer = std::move(peer_fd);
    sys::register_fork_private_fd(own.get());
    sys::register_fork_private_fd(peer.get());
  }
  void release() noexcept {
    if (own) {
      sys::unregister_fork_private_fd(own.get());
      sys::unregister_fork_private_fd(peer.get());
      own.reset();
      peer.reset();
    }
  }

  // True once every copy of the other end is closed (sticky).
  bool other_end_gone() {
    if (!peer_gone.load(std::memory_order_relaxed)) {
      pollfd p{peer.get(), POLLIN, 0};
      if (::poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR)) != 0) {
        peer_gone.store(true, std::memory_order_relaxed);
      }
    }
    return peer_gone.load(std::memory_order_relaxed);
  }
};

namespace {

void check_usable(const std::shared_ptr<ConnectionCore::State>& s, const char* call, bool able,
                  const char* role) {
  if (!s || s->closed) {
    throw std::logic_error(std::string("mp: Connection::") + call + " on a closed connection");
  }
  if (!able) {
    throw std::logic_error(std::string("mp: Connection::") + call + " on an end that cannot " +
                           role + " (Pipe(false) gives a receiving end and a sending end)");
  }
}

}  // namespace

std::pair<ConnectionCore, ConnectionCore> ConnectionCore::make_pair(bool duplex) {
  // Pipe i's write side is held by end i, its read side by the other end.
  sys::PipeFds alive[2] = {sys::make_pipe(), sys::make_pipe()};
  QueueCore to_first(0, false);  // messages the first end receives
  QueueCore to_second;
  if (duplex) {
    to_second = QueueCore(0, false);
  }
  ConnectionCore ends[2];
  for (int i = 0; i < 2; ++i) {
    auto s = std::make_shared<State>();
    s->adopt(sys::above_stdio(std::move(alive[i].write)),
             sys::above_stdio(std::move(alive[1 - i].read)));
    s->own_origin = shm::origin_of_new(s->own.get());
    s->peer_origin = shm::origin_of_new(s->peer.get());
    ends[i].state_ = std::move(s);
  }
  State& first = *ends[0].state_;
  State& second = *ends[1].state_;
  first.in = to_first;
  first.readable = true;
  second.out = to_first;
  second.writable = true;
  if (duplex) {
    first.out = to_second;
    first.writable = true;
    second.in = to_second;
    second.readable = true;
  }
  return {std::move(ends[0]), std::move(ends[1])};
}

bool ConnectionCore::readable() const noexcept { return state_ && state_->readable; }
bool ConnectionCore::writable() const noexcept { return state_ && state_->writable; }
bool ConnectionCore::closed() const noexcept { return !state_ || state_->closed; }

void ConnectionCore::close() noexcept {
  if (state_ && !state_->closed) {
    state_->closed = true;
    state_->release();
    state_->in = QueueCore();
    state_->out = QueueCore();
  }
}

void ConnectionCore::send(QueueCore::Encoder encode, const void* item) {
  check_usable(state_, "send", writable(), "send");
  State& s = *state_;
  const Clock::rep now = Clock::now().time_since_epoch().count();
  if (now >= s.next_check.load(std::memory_order_relaxed)) {
    s.next_check.store(now + Clock::duration(kPeerCheck).count(), std::memory_order_relaxed);
    if (s.other_end_gone()) {
      throw BrokenPipeError("mp: Connection::send: the other end of the pipe is closed");
    }
  }
  s.out.put(encode, item, Clock::time_point::max());
}

QueueCore::Taken ConnectionCore::recv(Clock::time_point deadline) {
  check_usable(state_, "recv", readable(), "receive");
  State& s = *state_;
  // The first look costs no system call; the peer is asked about only when nothing is
  // there, and once it is known gone the queue gets one last look: what it sent before it
  // went is always received first.
  for (bool first = true;; first = false) {
    const bool gone = s.peer_gone.load(std::memory_order_relaxed);
    const Clock::time_point slice =
        gone || first ? Clock::time_point::min() : std::min(deadline, Clock::now() + kPeerCheck);
    if (QueueCore::Taken t = s.in.get(slice)) {
      return t;
    }
    if (gone) {
      throw EOFError("mp: Connection::recv: the other end of the pipe is closed");
    }
    if (!s.other_end_gone() && !first && slice >= deadline) {
      return {};
    }
  }
}

bool ConnectionCore::poll(Clock::time_point deadline) {
  check_usable(state_, "poll", readable(), "receive");
  State& s = *state_;
  for (;;) {
    if (s.in.qsize() > 0 || s.other_end_gone()) {
      return true;
    }
    const Clock::time_point now = Clock::now();
    if (now >= deadline) {
      return false;
    }
    // Waits on the queue by the same path recv takes, without taking the message.
    if (s.in.wait_readable(std::min(deadline, now + kPeerCheck))) {
      return true;
    }
  }
}

ConnectionCore::Refs ConnectionCore::refs() const {
  if (closed()) {
    throw std::logic_error("mp: sending a closed Connection");
  }
  Refs r;
  r.readable = state_->readable;
  r.writable = state_->writable;
  r.own = shm::make_ref(state_->own.get(), state_->own_origin);
  r.peer = shm::make_ref(state_->peer.get(), state_->peer_origin);
  return r;
}

const QueueCore& ConnectionCore::incoming() const { return state_->in; }
const QueueCore& ConnectionCore::outgoing() const { return state_->out; }

void ConnectionCore::attach(const Refs& r, QueueCore in, QueueCore out) {
  auto s = std::make_shared<State>();
  s->adopt(shm::open_ref(r.own), shm::open_ref(r.peer));
  s->own_origin = r.own;
  s->peer_origin = r.peer;
  s->readable = r.readable;
  s->writable = r.writable;
  s->in = std::move(in);
  s->out = std::move(out);
  state_ = std::move(s);
}

}  // namespace mp::detail
