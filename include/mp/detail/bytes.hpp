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
      overflow(n);
    }
    std::memcpy(cur_, data, n);
    cur_ += n;
  }

  // Bytes written so far.
  std::size_t size() const { return static_cast<std::size_t>(cur_ - begin_); }

  // Drops everything written after `size` bytes (used to replace partial results by an error).
  void truncate(std::size_t size) { cur_ = begin_ + size; }

  // Overwrites bytes already written at `offset` (a count filled in after the items).
  void patch(std::size_t offset, const void* data, std::size_t n) {
    std::memcpy(begin_ + offset, data, n);
  }

 protected:
  ~Writer() = default;
  // Must make room for at least `n` more bytes, keeping the bytes written so far
  // (begin_ may move; size() is preserved).
  virtual void overflow(std::size_t n) = 0;

  std::byte* begin_ = nullptr;
  std::byte* cur_ = nullptr;
  std::byte* end_ = nullptr;
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

// Reads a message that lies in contiguous memory.
class Reader {
 public:
  Reader(const std::byte* data, std::size_t n) : cur_(data), end_(data + n) {}

  void read(void* out, std::size_t n) {
    if (n != 0) {
      std::memcpy(out, take(n), n);
    }
  }

  const std::byte* take(std::size_t n) {
    if (n > remaining()) [[unlikely]] {
      throw_truncated_message(n, remaining());
    }
    const std::byte* p = cur_;
    cur_ += n;
    return p;
  }

  std::size_t remaining() const { return static_cast<std::size_t>(end_ - cur_); }
  const std::byte* position() const { return cur_; }

 private:
  const std::byte* cur_;
  const std::byte* end_;
};

}  // namespace mp::detail
