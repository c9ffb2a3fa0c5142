// The Job implementations behind Pool's calls: a chunked source over the caller's range
// and the sinks that collect results (in order into a vector for map, as a window of
// ready chunks for imap).
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <exception>
#include <iterator>
#include <map>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "mp/detail/callable.hpp"
#include "mp/detail/codec.hpp"
#include "mp/detail/kernels.hpp"
#include "mp/detail/pool_core.hpp"

namespace mp::detail {

// Errors of arguments whose save() threw in the caller, by input index: the worker reports
// each as unsent (kItemUnsent) at its position, where the caller's error takes its place.
using UnsentItems = std::map<std::uint64_t, std::exception_ptr>;

// The error of an argument that did not produce a value: it threw (kItemError), it
// crashed a worker and was skipped when the message ran again (kItemCrashed), or it could
// not be sent (kItemUnsent).
inline std::exception_ptr decode_failed_item(std::uint8_t status, Reader& in, pid_t pid,
                                             std::uint64_t index, UnsentItems& unsent) {
  if (status == kItemCrashed) {
    std::int32_t crashed_pid = 0;
    std::int32_t wait_status = 0;
    in.read(&crashed_pid, sizeof crashed_pid);
    std::int32_t cause = 0;
    in.read(&wait_status, sizeof wait_status);
    in.read(&cause, sizeof cause);
    return make_crash_error(crashed_pid, wait_status, cause, index);
  }
  if (status == kItemUnsent) {
    auto node = unsent.extract(index);
    if (node.empty()) {
      throw std::logic_error(
          "mp: internal error: a worker reports an unsent argument that was sent");
    }
    return std::move(node.mapped());
  }
  return decode_item_error(in, pid, index);
}

// Decodes one result a worker reported as a value. A framed one (see kernels.hpp) that
// fails to load fails alone: its error is returned and the reader stands at the next.
template <class R, class Storage>
std::exception_ptr decode_result(Reader& in, Storage& storage, R& v) {
  if constexpr (framed_v<R>) {
    std::optional<Reader> item = next_framed(in);
    if (!item) {
      throw std::logic_error("mp: internal error: a worker sent a result marked unsent");
    }
    try {
      decode(*item, v);
    } catch (...) {
      return std::current_exception();
    }
    return nullptr;
  } else {
    storage.decode(in, v);
    return nullptr;
  }
}

// Keeps an lvalue range by reference and takes ownership of an rvalue one, so an imap
// over a temporary vector stays valid while it is iterated.
template <class Range>
struct RangeHolder {
  using Stored =
      std::conditional_t<std::is_lvalue_reference_v<Range>, Range, std::remove_cvref_t<Range>>;
  explicit RangeHolder(Range&& r) : range(std::forward<Range>(r)) {}
  Stored range;
};

// The type an input item is decoded into in the worker: the range's value type, with
// the const dropped from a map's key so that it can be assigned.
template <class T>
struct decodable {
  using type = T;
};
template <class K, class V>
struct decodable<std::pair<const K, V>> {
  using type = std::pair<K, V>;
};
template <class Range>
using item_t = typename decodable<
    std::remove_cvref_t<std::ranges::range_value_t<std::remove_reference_t<Range>>>>::type;

// Python's rule for map's default chunksize: about four chunks per worker.
inline std::size_t default_chunksize(std::size_t n, int processes) {
  const std::size_t per = static_cast<std::size_t>(processes) * 4;
  const std::size_t c = n / per + (n % per != 0 ? 1 : 0);
  return std::max<std::size_t>(c, 1);
}

// Results of a call collected in input order (map, starmap, apply and their _async forms).
template <class R>
class VectorSink {
 public:
  void reserve(std::size_t n) {
    values_.reserve(n);
    // A large result vector is fresh memory the parent fills: huge pages make its page
    // faults 512 times fewer, the largest cost of a map of cheap tasks (BENCHMARKS.md).
    if constexpr (!std::is_same_v<R, bool>) {
      prefault_huge_pages(values_.data(), n * sizeof(R));
    }
  }
  void on_sent(const ChunkRef& c) { values_.resize(c.first + c.count); }
  bool window_open() const { return true; }
  // Returns the first argument's error, if one threw (map raises it; the rest is moot).
  std::exception_ptr decode(const ChunkRef& c, Reader& message, pid_t pid, UnsentItems& unsent) {
    Reader in = message;  // a copy the loop can keep in registers (see Reader)
    for (std::uint32_t i = 0; i < c.count; ++i) {
      std::uint8_t status = 0;
      in.read(&status, 1);
      if (status != kItemOk) {
        return decode_failed_item(status, in, pid, c.first + i, unsent);
      }
      R v{};
      if (std::exception_ptr e = decode_result(in, storage_, v)) {
        return e;
      }
      values_[c.first + i] = std::move(v);
    }
    message = in;
    return nullptr;
  }
  void prepare(std::size_t bytes) { storage_.prepare(bytes); }
  std::vector<R>& values() { return values_; }

 private:
  std::vector<R> values_;
  PreparedStorage<R> storage_;
};

template <>
class VectorSink<void> {
 public:
  void reserve(std::size_t) {}
  void on_sent(const ChunkRef&) {}
  bool window_open() const { return true; }
  std::exception_ptr decode(const ChunkRef& c, Reader& in, pid_t pid, UnsentItems& unsent) {
    for (std::uint32_t i = 0; i < c.count; ++i) {
      std::uint8_t status = 0;
      in.read(&status, 1);
      if (status != kItemOk) {
        return decode_failed_item(status, in, pid, c.first + i, unsent);
      }
    }
    return nullptr;
  }
};

// A chunk of imap results waiting to be consumed. An argument that threw has its error
// at its offset instead of a value; a chunk that failed as a whole has only `error`, raised
// once for each of its `failed` arguments, so that every input item is accounted for.
template <class R>
struct ReadyChunk {
  // Not std::vector<bool>, whose elements cannot be decoded into by reference.
  std::conditional_t<std::is_same_v<R, bool>, std::deque<bool>, std::vector<R>> values;
  std::map<std::uint32_t, std::exception_ptr> item_errors;
  std::exception_ptr error;
  std::uint32_t failed = 0;
};

// Results of imap (Ordered) or imap_unordered: at most `window` chunks are sent or ready
// but not yet consumed, so an endless input runs in bounded memory; with an item window,
// also at most that many arguments ahead of the results taken (Parallel's pre_dispatch).
template <class R, bool Ordered>
class StreamSink {
 public:
  void set_window(std::size_t chunks) { window_ = chunks; }
  void set_item_window(std::size_t items) { item_window_ = items; }
  void reserve(std::size_t) {}
  void on_sent(const ChunkRef& c) {
    ++open_chunks_;
    open_items_ += c.count;
    if constexpr (Ordered) {
      sizes_.emplace(c.first, c.count);
    }
  }
  bool window_open() const { return open_chunks_ < window_ && room() > 0; }
  // Arguments that may still be sent before the caller takes more results.
  std::size_t room() const {
    return item_window_ == 0 ? SIZE_MAX : item_window_ - std::min(open_items_, item_window_);
  }
  std::exception_ptr decode(const ChunkRef& c, Reader& message, pid_t pid, UnsentItems& unsent) {
    Reader in = message;  // a copy the loop can keep in registers (see Reader)
    ReadyChunk<R> chunk;
    chunk.values.resize(c.count);
    for (std::uint32_t i = 0; i < c.count; ++i) {
      std::uint8_t status = 0;
      in.read(&status, 1);
      std::exception_ptr error = status == kItemOk
                                     ? decode_result(in, storage_, chunk.values[i])
                                     : decode_failed_item(status, in, pid, c.first + i, unsent);
      if (error) {
        chunk.item_errors.emplace(i, std::move(error));
      }
    }
    message = in;
    store(c, std::move(chunk));
    return nullptr;
  }
  void prepare(std::size_t bytes) { storage_.prepare(bytes); }
  void fail(const ChunkRef& c, std::exception_ptr error) {
    ReadyChunk<R> chunk;
    chunk.error = std::move(error);
    chunk.failed = std::max<std::uint32_t>(c.count, 1);
    store(c, std::move(chunk));
  }
  // The input threw when its element `at` was read: the error comes after the results of
  // everything sent before it (in input order; imap_unordered: when it is met).
  void fail_input(std::uint64_t at, std::exception_ptr error) {
    const ChunkRef c{at, 1};
    on_sent(c);
    fail(c, std::move(error));
  }

  // The next value, an error to throw, or nothing yet.
  bool has_next() const {
    if (pos_ < current_.values.size() || current_.error) {
      return true;
    }
    if constexpr (Ordered) {
      return ready_.count(next_first_) != 0;
    } else {
      return !ready_.empty();
    }
  }
  // Requires has_next(). Throws the task's error.
  R take_next() {
    if (pos_ >= current_.values.size() && !current_.error) {
      advance();
    }
    if (open_items_ > 0) {
      --open_items_;  // this argument's result (or error) is taken
    }
    if (current_.error) {
      std::exception_ptr e = current_.error;
      if (--current_.failed == 0) {
        current_.error = nullptr;
      }
      std::rethrow_exception(e);
    }
    const auto at = static_cast<std::uint32_t>(pos_++);
    if (!current_.item_errors.empty()) {
      if (auto it = current_.item_errors.find(at); it != current_.item_errors.end()) {
        std::rethrow_exception(it->second);
      }
    }
    return std::move(current_.values[at]);
  }

 private:
  void store(const ChunkRef& c, ReadyChunk<R>&& chunk) {
    if constexpr (Ordered) {
      ready_.emplace(c.first, std::move(chunk));
    } else {
      ready_.push_back(std::move(chunk));
    }
  }
  void advance() {
    if constexpr (Ordered) {
      auto it = ready_.find(next_first_);
      next_first_ += sizes_.at(next_first_);
      sizes_.erase(it->first);
      current_ = std::move(it->second);
      ready_.erase(it);
    } else {
      current_ = std::move(ready_.front());
      ready_.pop_front();
    }
    pos_ = 0;
    --open_chunks_;
  }

  std::size_t window_ = 64;
  std::size_t open_chunks_ = 0;
  std::size_t item_window_ = 0;  // 0: none
  std::size_t open_items_ = 0;
  ReadyChunk<R> current_;
  std::size_t pos_ = 0;
  std::conditional_t<Ordered, std::map<std::uint64_t, ReadyChunk<R>>, std::deque<ReadyChunk<R>>>
      ready_;
  std::map<std::uint64_t, std::uint32_t> sizes_;  // Ordered: chunk sizes by first index
  std::uint64_t next_first_ = 0;
  PreparedStorage<R> storage_;
};

// One call: F applied (Spread: std::apply'd) to each element of a range, in chunks.
// Arg is what the worker decodes each element into.
template <class F, class Range, bool Spread, class Sink, class Arg_ = item_t<Range>>
class ChunkedJob final : public Job {
 public:
  using Arg = Arg_;
  using Kernel = ChunkKernel<F, Arg, Spread>;

  ChunkedJob(F f, Range&& range, std::size_t chunksize)
      : f_(std::move(f)),
        holder_(std::forward<Range>(range)),
        it_(std::ranges::begin(holder_.range)),
        end_(std::ranges::end(holder_.range)),
        chunksize_(chunksize) {
    if constexpr (std::ranges::sized_range<std::remove_reference_t<Range>>) {
      size_ = static_cast<std::uint64_t>(std::ranges::size(holder_.range));
      items_total_ = size_;
      sink_.reserve(static_cast<std::size_t>(size_));
    }
    exhausted_ = it_ == end_;
  }

  bool can_send() const override { return !exhausted_ && sink_.window_open(); }

  std::size_t chunksize() const override { return chunksize_; }

  bool encode_next(Writer& out, ChunkRef& chunk, std::size_t batch) override {
    if (it_ == end_) {
      return false;
    }
    std::size_t limit = chunksize_ * batch;
    if constexpr (requires { sink_.room(); }) {
      // Merged chunks stay within an item window, but a whole chunk always goes.
      const std::size_t room = sink_.room();
      if (room < limit) {
        limit = std::max<std::size_t>(room / chunksize_, 1) * chunksize_;
      }
    }
    const std::uint64_t id = Kernel::id();
    out.write(&id, sizeof id);
    encode_callable(out, f_);
    // The count goes first, so it must be known before the arguments are read: a worker
    // may start on a large message while it is still being written. An input that does
    // not know its size sends "to the end of the message" instead.
    std::uint32_t count = kArgumentsToEnd;
    if constexpr (std::ranges::sized_range<std::remove_reference_t<Range>>) {
      count = static_cast<std::uint32_t>(std::min<std::uint64_t>(limit, size_ - next_));
      if (count == 0) {
        throw std::logic_error("mp: the input range has more elements than its size says");
      }
    }
    out.write(&count, sizeof count);
    // Not `count` itself in the loop: its address went to write(), so the compiler would
    // load it from memory after every argument.
    const std::size_t todo = std::min<std::size_t>(limit, count);
    std::uint32_t n = 0;
    using It = decltype(it_);
    if constexpr (std::contiguous_iterator<It> && std::sized_sentinel_for<decltype(end_), It> &&
                  std::is_same_v<std::iter_value_t<It>, Arg> && is_bitwise_v<Arg> &&
                  !framed_v<Arg>) {
      // Plain values side by side: their encoding is their bytes, one copy for the chunk.
      n = static_cast<std::uint32_t>(
          std::min<std::size_t>(todo, static_cast<std::size_t>(end_ - it_)));
      out.write(std::to_address(it_), std::size_t{n} * sizeof(Arg));
      it_ += n;
    }
    for (; n < todo && it_ != end_; ++it_, ++n) {
      using Ref = decltype(*it_);
      if constexpr (is_specialization<std::remove_cvref_t<Ref>, std::tuple>::value) {
        encode_argument(out, *it_, n);  // a tuple of the values or of references to them
      } else {
        encode_argument(out, static_cast<const Arg&>(*it_), n);
      }
    }
    if (count != kArgumentsToEnd && n != count) {
      throw std::logic_error("mp: the input range has fewer elements than its size says");
    }
    chunk.first = next_;
    chunk.count = n;
    next_ += n;
    sink_.on_sent(chunk);
    exhausted_ = it_ == end_;
    return true;
  }

  // Reading *it_ may throw (the input broke), which ends the call; a save() that throws
  // fails its own item only.
  template <class Item>
  void encode_argument(Writer& out, const Item& item, std::uint32_t n) {
    if constexpr (framed_v<Arg>) {
      thread_local VectorWriter scratch;
      try {
        encode_framed(out, scratch, item);
      } catch (...) {
        unsent_.insert_or_assign(next_ + n, std::current_exception());
        out.write(&kUnsentItem, sizeof kUnsentItem);
      }
    } else {
      encode(out, item);
    }
  }

  void decode_chunk(const ChunkRef& chunk, Reader& in, pid_t pid) override {
    if (std::exception_ptr e = sink_.decode(chunk, in, pid, unsent_)) {
      Job::fail_chunk(chunk, std::move(e));
    }
  }

  void prepare_result(std::size_t bytes) override {
    if constexpr (requires { sink_.prepare(bytes); }) {
      sink_.prepare(bytes);
    }
  }

  void fail_chunk(const ChunkRef& chunk, std::exception_ptr error) override {
    if constexpr (requires { sink_.take_next(); }) {
      sink_.fail(chunk, std::move(error));
    } else {
      Job::fail_chunk(chunk, std::move(error));
    }
  }

  void fail_input(std::exception_ptr error) override {
    if constexpr (requires { sink_.take_next(); }) {
      sink_.fail_input(next_, std::move(error));
    } else {
      Job::fail_input(std::move(error));
    }
  }

  Sink& sink() { return sink_; }

 private:
  F f_;
  RangeHolder<Range> holder_;
  std::ranges::iterator_t<typename RangeHolder<Range>::Stored> it_;
  std::ranges::sentinel_t<typename RangeHolder<Range>::Stored> end_;
  std::size_t chunksize_;
  std::uint64_t size_ = 0;  // of a sized input
  std::uint64_t next_ = 0;
  UnsentItems unsent_;
  Sink sink_;
};

}  // namespace mp::detail
