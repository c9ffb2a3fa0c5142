// The bytes behind mp::SharedDict and mp::SharedList: keys, values and items as mp's codec
// encodes them, in a block of shared memory with its own allocator and lock
// (src/shm/shared_containers.cpp; docs/decisions/0009-shared-containers.md). Every call
// takes the container's lock for its duration.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "mp/detail/shared_block.hpp"

namespace mp::detail {

using Bytes = std::vector<std::byte>;
using ByteView = std::span<const std::byte>;

class SharedContainerCore {
 public:
  enum class Kind : std::uint32_t { map = 1, list = 2 };

  SharedContainerCore() = default;
  // A new, empty container whose entries may take up to `capacity` bytes of shared memory
  // (pages are used only as entries fill them). `what` names it in error messages.
  static SharedContainerCore create(Kind kind, std::size_t capacity, const char* what);

  explicit operator bool() const noexcept { return static_cast<bool>(block_); }
  std::size_t capacity() const noexcept { return block_.size(); }
  std::size_t size() const;
  void clear();

  // Map: entries keep the order in which their keys were first set (as Python's dict).
  void set(ByteView key, ByteView value);
  std::optional<Bytes> get(ByteView key) const;
  bool contains(ByteView key) const;
  bool erase(ByteView key);
  // Calls `change` with the current value (nullptr: none) while the lock is held, and
  // stores what it returns: a read-modify-write no other process can interleave with.
  void update(ByteView key, const std::function<Bytes(const Bytes*)>& change);
  std::vector<std::pair<Bytes, Bytes>> items() const;

  // List.
  void push_back(ByteView item);
  Bytes at(std::size_t index) const;  // std::out_of_range past the end
  void assign(std::size_t index, ByteView item);
  std::optional<Bytes> pop_back();
  std::vector<Bytes> all() const;

  template <class Archive>
  void save(Archive& ar) const {
    ar(block_);
  }
  template <class Archive>
  void load(Archive& ar) {
    ar(block_);
    check_attached();
  }

 private:
  explicit SharedContainerCore(SharedBlock block) : block_(std::move(block)) {}
  void check_attached() const;  // SerializationError if the block is not a container

  SharedBlock block_;
};

}  // namespace mp::detail
