// Queues between processes (Python's multiprocessing.Queue, JoinableQueue, SimpleQueue).
//
//   mp::Queue<std::string> tasks, results;
//   mp::Process worker([](mp::Queue<std::string> in, mp::Queue<std::string> out) {
//     for (std::string s = in.get(); !s.empty(); s = in.get()) out.put(s + "!");
//   }, tasks, results);
//   worker.start();
//   tasks.put("hello");
//   tasks.put("");                 // the poison pill
//   results.get();                 // "hello!"
//
// Any number of processes and threads put and get. Items are any type mp can send
// (include/mp/serialize.hpp), of any size: the queue's shared memory grows to hold what is
// in it. Items from one producer arrive in the order it put them.
//
// Unlike Python's, put() serializes and writes the item before it returns: an item that
// cannot be serialized throws in the caller, and a process may exit right after put()
// without losing what it put (Python's feeder thread must flush first, and joining a
// producer before draining its queue deadlocks). put() waits only while the queue holds
// maxsize items; mp::Full and mp::Empty report a timed or non-blocking call that could not
// proceed. A process killed while it puts or gets leaves the queue usable by the others:
// a half-written item is never seen, and a half-read one stays for the next reader.
//
// Like the objects of include/mp/sync.hpp these are handles: copies, and what a Process
// target, Pool initializer or task receives, are the same queue.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>

#include "mp/detail/codec.hpp"
#include "mp/detail/deadline.hpp"
#include "mp/detail/queue_core.hpp"
#include "mp/errors.hpp"

namespace mp {

template <class T>
class Queue {
  static_assert(detail::is_transferable_v<T>,
                "mp: a Queue's item type must be one mp can send to another process: make it "
                "trivially copyable or give it a cereal serialize() function (see "
                "include/mp/serialize.hpp)");

 public:
  // maxsize: the most items it holds at once; 0 (the default) means no limit.
  explicit Queue(std::size_t maxsize = 0) : core_(maxsize, false) {}

  // Waits while the queue is full.
  void put(const T& item) { put_until(item, detail::SteadyClock::time_point::max()); }
  // Waits at most `timeout` for room; throws mp::Full then.
  template <class Rep, class Period>
  void put(const T& item, std::chrono::duration<Rep, Period> timeout) {
    put_until(item, detail::deadline_after(timeout));
  }
  void put_nowait(const T& item) { put_until(item, detail::SteadyClock::time_point::min()); }

  // Waits for an item.
  T get() { return *get_until(detail::SteadyClock::time_point::max()); }
  // Waits at most `timeout`; throws mp::Empty then.
  template <class Rep, class Period>
  T get(std::chrono::duration<Rep, Period> timeout) {
    if (std::optional<T> v = get_until(detail::deadline_after(timeout))) {
      return std::move(*v);
    }
    throw Empty("mp: Queue::get timed out: the queue stayed empty");
  }
  T get_nowait() {
    if (std::optional<T> v = get_until(detail::SteadyClock::time_point::min())) {
      return std::move(*v);
    }
    throw Empty("mp: Queue::get_nowait: the queue is empty");
  }
  // An item if one is there now, without an exception if not.
  std::optional<T> try_get() { return get_until(detail::SteadyClock::time_point::min()); }

  // Items in the queue now (exact at the moment it looks).
  std::size_t qsize() const noexcept { return core_.qsize(); }
  bool empty() const noexcept { return qsize() == 0; }
  bool full() const noexcept { return core_.maxsize() != 0 && qsize() >= core_.maxsize(); }
  std::size_t maxsize() const noexcept { return core_.maxsize(); }

  // This handle puts and gets no more (std::logic_error if it tries); other handles, in
  // this process or others, are not affected, and what was put stays in the queue.
  void close() noexcept { closed_ = true; }
  bool closed() const noexcept { return closed_; }

  template <class Archive>
  void serialize(Archive& ar) {
    ar(core_);
  }

 protected:
  Queue(std::size_t maxsize, bool joinable) : core_(maxsize, joinable) {}

  void check_open(const char* call) const {
    if (closed_) {
      throw std::logic_error(std::string("mp: Queue::") + call + " after close()");
    }
  }
  void put_until(const T& item, detail::SteadyClock::time_point deadline) {
    check_open("put");
    if (core_.put(&detail::encode_erased<T>, &item, deadline) ==
        detail::QueueCore::PutResult::full) {
      throw Full("mp: Queue::put: the queue stayed full (maxsize " +
                 std::to_string(core_.maxsize()) + ")");
    }
  }
  std::optional<T> get_until(detail::SteadyClock::time_point deadline) {
    check_open("get");
    detail::QueueCore::Taken taken = core_.get(deadline);
    if (!taken) {
      return std::nullopt;
    }
    return detail::decode_message<T>(taken.bytes().data(), taken.bytes().size());
  }

  detail::QueueCore core_;
  bool closed_ = false;
};

// A Queue that counts unfinished tasks (Python's JoinableQueue): every put() adds one,
// task_done() removes one, join() waits until none is left.
template <class T>
class JoinableQueue : public Queue<T> {
 public:
  explicit JoinableQueue(std::size_t maxsize = 0) : Queue<T>(maxsize, true) {}

  // Throws std::logic_error if called more times than items were put.
  void task_done() { this->core_.task_done(); }
  void join() { this->core_.join(detail::SteadyClock::time_point::max()); }
  // False if tasks were still unfinished after `timeout`.
  template <class Rep, class Period>
  bool join(std::chrono::duration<Rep, Period> timeout) {
    return this->core_.join(detail::deadline_after(timeout));
  }
};

// An unbounded queue with only put, get, empty and close (Python's SimpleQueue).
template <class T>
class SimpleQueue {
 public:
  SimpleQueue() = default;
  void put(const T& item) { q_.put(item); }
  T get() { return q_.get(); }
  bool empty() const noexcept { return q_.empty(); }
  void close() noexcept { q_.close(); }

  template <class Archive>
  void serialize(Archive& ar) {
    ar(q_);
  }

 private:
  Queue<T> q_;
};

}  // namespace mp
