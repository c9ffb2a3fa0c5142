// Pipes between processes (Python's multiprocessing.Pipe and Connection).
//
//   auto [parent_end, child_end] = mp::Pipe<std::string>();
//   mp::Process child([](mp::Connection<std::string> c) { c.send(c.recv() + "!"); }, child_end);
//   child.start();
//   child_end.close();             // so that the child's death is seen here (below)
//   parent_end.send("hello");
//   parent_end.recv();             // "hello!"
//
// Items are any type mp can send (include/mp/serialize.hpp), of any size; each end
// receives in the order the other sent. Messages go through shared memory, so a round
// trip costs a fraction of a microsecond instead of two trips through the kernel.
//
// When every copy of the other end is closed, in every process that held one (close(),
// the last handle's destruction, an exit, a SIGKILL), recv() receives what was sent
// before and then throws mp::EOFError, and send() throws mp::BrokenPipeError; neither
// hangs. As in Python, a forked child holds copies of both ends, and a parent that keeps
// the child's end open counts as a holder of it: close it once the child has started,
// and the child's death becomes visible.
//
// Copies of a Connection in one process are the same end (close() closes it for all of
// them). A Connection can be given to a Process target, a Pool initializer or a task on
// any start method.
#pragma once

#include <chrono>
#include <optional>
#include <utility>

#include "mp/detail/codec.hpp"
#include "mp/detail/connection_core.hpp"
#include "mp/detail/deadline.hpp"
#include "mp/errors.hpp"

namespace mp {

template <class T>
class Connection {
  static_assert(detail::is_transferable_v<T>,
                "mp: a Connection's item type must be one mp can send to another process: make "
                "it trivially copyable or give it a cereal serialize() function (see "
                "include/mp/serialize.hpp)");

 public:
  Connection() = default;

  // Sends one item; never waits (the pipe's shared memory grows to hold what is unread).
  void send(const T& item) { core_.send(&detail::encode_erased<T>, &item); }

  // Waits for the next item.
  T recv() { return *recv_until(detail::SteadyClock::time_point::max()); }

  // True if recv() would return at once: an item is there, or the other end is gone (then
  // recv() throws mp::EOFError). Waits at most `timeout` for that (0: just looks).
  bool poll() { return core_.poll(detail::SteadyClock::time_point::min()); }
  template <class Rep, class Period>
  bool poll(std::chrono::duration<Rep, Period> timeout) {
    return core_.poll(detail::deadline_after(timeout));
  }

  // Closes this end in this process. Sending, receiving or polling afterwards throws
  // std::logic_error.
  void close() noexcept { core_.close(); }
  bool closed() const noexcept { return core_.closed(); }
  bool readable() const noexcept { return core_.readable(); }
  bool writable() const noexcept { return core_.writable(); }

  template <class Archive>
  void serialize(Archive& ar) {
    ar(core_);
  }

 private:
  template <class U>
  friend std::pair<Connection<U>, Connection<U>> Pipe(bool duplex);
  explicit Connection(detail::ConnectionCore core) : core_(std::move(core)) {}

  std::optional<T> recv_until(detail::SteadyClock::time_point deadline) {
    detail::QueueCore::Taken taken = core_.recv(deadline);
    if (!taken) {
      return std::nullopt;
    }
    return detail::decode_message<T>(taken.bytes().data(), taken.bytes().size());
  }

  detail::ConnectionCore core_;
};

// The two ends of a new pipe. duplex: each end sends and receives; otherwise the first
// end only receives and the second only sends.
template <class T>
std::pair<Connection<T>, Connection<T>> Pipe(bool duplex = true) {
  auto [first, second] = detail::ConnectionCore::make_pair(duplex);
  return {Connection<T>(std::move(first)), Connection<T>(std::move(second))};
}

}  // namespace mp
