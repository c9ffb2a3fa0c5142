// Byte-level message writing and reading, shared by the codec and the transports.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace mp::detail {

[[noreturn]] void throw_truncated_message(std::size_t wanted, std::size_t available);

// Appends bytes to a message. Subclasses provide the storage (a ring frame, a growable
// shared buffer, a vector) and grow it in overflow(); the inline path is a bounds check
// and a memcpy.
class Writer {
 public:
  Writer() = default;
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void write(const void* data, std::size_t n) {
    if (n == 0) {
      return;  // data may be null (an empty string's bytes); memcpy must not see it
    }
    if (n > static_cast<std::size_t>(end_ - cur_)) [[unlikely]] {
      write_in_parts(static_cast<const std::byte*>(data), n);
      return;
    }
    std::memcpy(cur_, data, n);
    cur_ += n;
  }

  // Bytes written so far.
  std::size_t size() const { return static_cast<std::size_t>(cur_ - begin_); }

  // Drops everything written after `size` bytes (used to replace partial results by an error).
  void truncate(std::size_t size) { cur_ = begin_ + size; }

  // Overwrites bytes already written at `offset` (a time filled in after the results).
  // Not for a Writer whose bytes are read while being written (a streaming channel).
  void patch(std::size_t offset, const void* data, std::size_t n) {
    std::memcpy(begin_ + offset, data, n);
  }

 protected:
  ~Writer() = default;
  // Must make room for more bytes, keeping the bytes written so far (begin_ may move;
  // size() is preserved): room for all `n` bytes of the write in progress, or, for a
  // Writer that hands its bytes on while writing, for at least one more.
  virtual void overflow(std::size_t n) = 0;

  std::byte* begin_ = nullptr;
  std::byte* cur_ = nullptr;
  std::byte* end_ = nullptr;

 private:
  // The slow path of write(), out of line so that write() stays small where it is inlined.
  void write_in_parts(const std::byte* data, std::size_t n);
};

// A Writer into ordinary heap memory.
class VectorWriter final : public Writer {
 public:
  VectorWriter() = default;
  const std::byte* data() const { return begin_; }

 private:
  void overflow(std::size_t n) override {
    const std::size_t used = size();
    buffer_.resize(std::max(buffer_.size() * 2, used + n + 64));
    begin_ = buffer_.data();
    cur_ = begin_ + used;
    end_ = begin_ + buffer_.size();
  }
  std::vector<std::byte> buffer_;
};

// A Writer that keeps a small message inside itself (no allocation) and moves a larger one
// to the heap.
class InlineWriter final : public Writer {
 public:
  InlineWriter() {
    begin_ = cur_ = inline_;
    end_ = inline_ + sizeof inline_;
  }
  InlineWriter(const InlineWriter&) = delete;
  InlineWriter& operator=(const InlineWriter&) = delete;
  const std::byte* data() const { return begin_; }

 private:
  void overflow(std::size_t n) override {
    const std::size_t used = size();
    const bool was_inline = begin_ == inline_;
    heap_.resize(std::max(heap_.size() * 2, used + n + 64));
    if (was_inline) {
      std::memcpy(heap_.data(), inline_, used);
    }
    begin_ = heap_.data();
    cur_ = begin_ + used;
    end_ = begin_ + heap_.size();
  }
  std::byte inline_[192];
  std::vector<std::byte> heap_;
};

// The rest of a message that is still being written, for a Reader that reaches the end
// of what has arrived.
class ReaderSource {
 public:
  // Waits until more than `have` bytes of the message have arrived or the message is
  // complete, and returns how many have arrived (`have` when the message ends there).
  // Throws if the writer gave the message up.
  virtual std::size_t wait_beyond(std::size_t have) = 0;

 protected:
  ~ReaderSource() = default;
};

// Reads a message that lies in contiguous memory; with a source, one whose end may still
// be arriving (reading past what has arrived waits for it).
class Reader {
 public:
  Reader(const std::byte* data, std::size_t n, ReaderSource* source = nullptr)
      : begin_(data), cur_(data), end_(data + n), source_(source) {}

  void read(void* out, std::size_t n) {
    if (n != 0) {
      std::memcpy(out, take(n), n);
    }
  }

  const std::byte* take(std::size_t n) {
    if (n > remaining()) [[unlikely]] {
      arrive(wait_for(begin_, cur_, {end_, source_}, n));
    }
    const std::byte* p = cur_;
    cur_ += n;
    return p;
  }

  // Takes up to `n` bytes, a multiple of `unit`, as soon as at least `unit` have arrived
  // (all `n` at once when the whole message is there): a bulk copy can follow a message
  // that is still being written. Sets `p` to them and returns how many.
  std::size_t take_some(std::size_t n, std::size_t unit, const std::byte*& p) {
    if (remaining() < std::min(n, unit)) {
      arrive(wait_for(begin_, cur_, {end_, source_}, std::min(n, unit)));
    }
    const std::size_t k = n <= remaining() ? n : remaining() / unit * unit;
    p = take(k);
    return k;
  }

  // True when every byte of the message has been read (waits until that is known).
  bool at_end() {
    while (remaining() == 0 && source_ != nullptr) {
      arrive(wait_for_more(begin_, {end_, source_}));
    }
    return remaining() == 0;
  }

  // Returns once the whole message has arrived; throws if the writer gave it up.
  void wait_complete() {
    while (source_ != nullptr) {
      arrive(wait_for_more(begin_, {end_, source_}));
    }
  }

  // True if more bytes may follow what has arrived.
  bool streaming() const { return source_ != nullptr; }
  // Bytes that have arrived and are not yet read.
  std::size_t remaining() const { return static_cast<std::size_t>(end_ - cur_); }
  const std::byte* position() const { return cur_; }

 private:
  // What has arrived of the message: its end, and its source while more may follow.
  struct Arrived {
    const std::byte* end;
    ReaderSource* source;
  };

  // The slow paths take and return the Reader's state by value, never its address: a
  // Reader copied into a decoding loop then stays in registers, as it would if reaching
  // the end could only throw.
  // Waits until `n` bytes from `cur` have arrived; throws if the message ends first.
  [[gnu::cold]] static Arrived wait_for(const std::byte* begin, const std::byte* cur, Arrived now,
                                        std::size_t n);
  // Waits for more of the message than `now`; no source once the message is complete.
  [[gnu::cold]] static Arrived wait_for_more(const std::byte* begin, Arrived now);
  void arrive(Arrived a) {
    end_ = a.end;
    source_ = a.source;
  }

  const std::byte* begin_;
  const std::byte* cur_;
  const std::byte* end_;
  ReaderSource* source_;
};

}  // namespace mp::detail
