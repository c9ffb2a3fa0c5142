// A map and a list shared by processes (Python's Manager().dict() and Manager().list()),
// kept in shared memory instead of a server process:
//
//   mp::SharedDict<std::string, int> counts;
//   pool.map([counts](const std::string& word) mutable {
//     counts.update(word, [](std::optional<int> n) { return n.value_or(0) + 1; });
//     return 0;
//   }, words);
//   counts.get("the");                                // std::optional<int>
//
//   mp::SharedList<std::string> log;
//   log.append("started");                            // from any process that has it
//
// Keys, values and items are any type mp can send (include/mp/serialize.hpp) and are
// copied in and out, as with Python's proxies: changing what get() returned changes
// nothing shared; set it again. Every call takes the container's lock for its duration,
// so each call is atomic, and update() is an atomic read-modify-write (in Python,
// `d[k] += 1` on a manager's dict is two round trips another process can come between).
// Nothing else is: hold an mp::Lock of your own around several calls that must go
// together. Keys are equal when their encodings are (for floating-point keys, 0.0 and
// -0.0 differ).
//
// Like mp::Array these are handles: copies, and what a Process target, a Pool initializer
// or a task receives, are the same container, under every start method. The memory is
// reserved at creation (`capacity` bytes, 64 MiB by default) and used as entries fill it;
// a call that needs more throws std::length_error and changes nothing. A process that
// dies inside a call that changes the container leaves it possibly half-changed: every
// later call throws mp::OwnerDied. Shared objects (arrays, queues) cannot be values.
//
// Python's ShareableList is a fixed-length list of numbers and strings; SharedList holds
// any sendable type and grows.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "mp/detail/bytes.hpp"
#include "mp/detail/codec.hpp"
#include "mp/detail/shared_block.hpp"
#include "mp/detail/shared_container_core.hpp"

namespace mp {

inline constexpr std::size_t kDefaultSharedCapacity = std::size_t{64} << 20;

namespace detail {

template <class T>
Bytes encode_for_container(const T& v) {
  FdCapture shared_objects;
  VectorWriter w;
  encode(w, v);
  if (!shared_objects.fds().empty()) {
    throw std::invalid_argument(
        "mp: a shared object (array, queue, lock...) cannot be stored in a SharedDict or "
        "SharedList: pass it to the processes directly");
  }
  return Bytes(w.data(), w.data() + w.size());
}

template <class T>
T decode_from_container(const Bytes& b) {
  return decode_message<T>(b.data(), b.size());
}

// What a SharedDict and a SharedList have alike: the handle to the shared core.
class SharedContainerHandle {
 public:
  std::size_t size() const { return core_.size(); }
  bool empty() const { return size() == 0; }
  void clear() { core_.clear(); }
  // The bytes of shared memory its entries may take.
  std::size_t capacity() const noexcept { return core_.capacity(); }

  template <class Archive>
  void serialize(Archive& ar) {
    ar(core_);
  }

 protected:
  SharedContainerHandle(SharedContainerCore::Kind kind, std::size_t capacity, const char* what)
      : core_(SharedContainerCore::create(kind, capacity, what)) {}

  SharedContainerCore core_;
};

}  // namespace detail

template <class K, class V>
class SharedDict : public detail::SharedContainerHandle {
 public:
  explicit SharedDict(std::size_t capacity = kDefaultSharedCapacity)
      : SharedContainerHandle(detail::SharedContainerCore::Kind::map, capacity, "SharedDict") {}

  void set(const K& key, const V& value) {
    core_.set(detail::encode_for_container(key), detail::encode_for_container(value));
  }
  // The value of `key`, or nullopt.
  std::optional<V> get(const K& key) const {
    std::optional<detail::Bytes> b = core_.get(detail::encode_for_container(key));
    if (!b) {
      return std::nullopt;
    }
    return detail::decode_from_container<V>(*b);
  }
  // The value of `key`; std::out_of_range if there is none (Python's KeyError).
  V at(const K& key) const {
    std::optional<V> v = get(key);
    if (!v) {
      throw std::out_of_range("mp: SharedDict has no such key");
    }
    return std::move(*v);
  }
  bool contains(const K& key) const { return core_.contains(detail::encode_for_container(key)); }
  // Returns whether `key` was there.
  bool erase(const K& key) { return core_.erase(detail::encode_for_container(key)); }
  // Stores change(current value, or nullopt) while holding the lock, and returns it.
  // `change` must not use this dict (std::logic_error).
  template <class F>
  V update(const K& key, F&& change) {
    std::optional<V> stored;
    core_.update(detail::encode_for_container(key), [&](const detail::Bytes* old) {
      std::optional<V> current;
      if (old != nullptr) {
        current = detail::decode_from_container<V>(*old);
      }
      stored = std::forward<F>(change)(std::move(current));
      return detail::encode_for_container(*stored);
    });
    return std::move(*stored);
  }
  // A copy of the entries, in the order their keys were first set.
  std::vector<std::pair<K, V>> items() const {
    std::vector<std::pair<K, V>> out;
    for (const auto& [k, v] : core_.items()) {
      out.emplace_back(detail::decode_from_container<K>(k), detail::decode_from_container<V>(v));
    }
    return out;
  }
  std::vector<K> keys() const {
    std::vector<K> out;
    for (const auto& [k, v] : core_.items()) {
      out.push_back(detail::decode_from_container<K>(k));
    }
    return out;
  }
};

template <class T>
class SharedList : public detail::SharedContainerHandle {
 public:
  explicit SharedList(std::size_t capacity = kDefaultSharedCapacity)
      : SharedContainerHandle(detail::SharedContainerCore::Kind::list, capacity, "SharedList") {}

  void append(const T& item) { core_.push_back(detail::encode_for_container(item)); }
  // Each item is appended by a call of its own: another process's items may come between.
  template <class Range>
  void extend(const Range& items) {
    for (const auto& item : items) {
      append(item);
    }
  }
  // std::out_of_range past the end.
  T at(std::size_t index) const { return detail::decode_from_container<T>(core_.at(index)); }
  void set(std::size_t index, const T& item) {
    core_.assign(index, detail::encode_for_container(item));
  }
  // Removes and returns the last item, or nullopt if there is none.
  std::optional<T> pop() {
    std::optional<detail::Bytes> b = core_.pop_back();
    if (!b) {
      return std::nullopt;
    }
    return detail::decode_from_container<T>(*b);
  }
  // A copy of the items.
  std::vector<T> to_vector() const {
    std::vector<T> out;
    for (const detail::Bytes& b : core_.all()) {
      out.push_back(detail::decode_from_container<T>(b));
    }
    return out;
  }
};

}  // namespace mp
