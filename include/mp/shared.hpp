// Values and arrays in memory shared between processes (Python's multiprocessing.Value,
// Array, RawValue, RawArray).
//
//   mp::Value<long> counter;                       // 0, with a lock of its own
//   mp::Array<double> xs(1000);                    // 1000 zeros
//   pool.map(work, ...);                            // tasks that received them write here
//   counter.update([](long& v) { v += 1; });       // read-modify-write under the lock
//
// T must be trivially copyable (numbers, plain structs, std::array of them): the bytes
// are read in place by every process, so nothing in them may point into one process's
// memory. Like the objects of include/mp/sync.hpp these are handles: copies, and what a
// Process target, Pool initializer or task receives, are the same memory.
//
// Value and Array carry a lock (an mp::RLock, as Python's lock=True). load() and store()
// take it for one access, so `v.store(v.load() + 1)` is not atomic: use update(), or hold
// get_lock() around several accesses and use get() meanwhile. RawValue and RawArray have
// no lock; for a flag or counter, a std::atomic<T> in a RawValue is lock-free across
// processes (for the types where std::atomic<T>::is_always_lock_free).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <new>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "mp/detail/codec.hpp"
#include "mp/detail/shared_block.hpp"
#include "mp/errors.hpp"
#include "mp/sync.hpp"

namespace mp {

namespace detail {

// What a shared T is made from: T itself, or U for a std::atomic<U>.
template <class T>
struct shared_init {
  using type = T;
};
template <class U>
struct shared_init<std::atomic<U>> {
  using type = U;
};

template <class T>
void check_shareable() {
  using Plain = typename shared_init<T>::type;
  static_assert(!std::is_pointer_v<Plain>,
                "mp: a pointer in shared memory means nothing in the other processes; share "
                "the value it points to");
  static_assert(std::is_trivially_copyable_v<Plain> && !std::is_reference_v<Plain>,
                "mp: shared values and arrays hold trivially copyable types (numbers, plain "
                "structs, std::array of them, or a std::atomic of one): every process reads "
                "the bytes in place");
  if constexpr (!std::is_same_v<Plain, T>) {
    static_assert(T::is_always_lock_free,
                  "mp: a std::atomic that is not lock-free uses a lock private to each "
                  "process; share it with a lock (mp::Value) instead");
  }
}

[[noreturn]] void throw_shared_index(std::size_t index, std::size_t size);

}  // namespace detail

// One T in shared memory, without a lock.
template <class T>
class RawValue {
 public:
  using Init = typename detail::shared_init<T>::type;

  explicit RawValue(const Init& initial = Init{}) {
    detail::check_shareable<T>();
    block_ = detail::SharedBlock::create(sizeof(T), "mp-value");
    new (block_.data()) T(initial);
  }

  // The value in place: every process that holds this value sees the same T.
  T& get() const noexcept { return *std::launder(reinterpret_cast<T*>(block_.data())); }
  // Not for a std::atomic: use get().load() and get().store() for it.
  T load() const noexcept { return get(); }
  void store(const T& v) const noexcept { get() = v; }

  template <class Archive>
  void serialize(Archive& ar) {
    ar(block_);
  }

 private:
  detail::SharedBlock block_;
};

// One T in shared memory with a lock (Python's Value(..., lock=True)).
template <class T>
class Value {
 public:
  explicit Value(const T& initial = T{}) : raw_(initial) {}
  // Shares `lock` with other objects, as Python's Value(..., lock=some_lock).
  Value(const T& initial, RLock lock) : raw_(initial), lock_(std::move(lock)) {}

  RLock& get_lock() noexcept { return lock_; }
  // The value in place; hold get_lock() while using it from several processes.
  T& get() const noexcept { return raw_.get(); }
  T load() {
    std::lock_guard g(lock_);
    return raw_.get();
  }
  void store(const T& v) {
    std::lock_guard g(lock_);
    raw_.get() = v;
  }
  // Calls f(T&) under the lock and returns what it returns: an atomic read-modify-write.
  template <class F>
  decltype(auto) update(F&& f) {
    std::lock_guard g(lock_);
    return std::forward<F>(f)(raw_.get());
  }

  template <class Archive>
  void serialize(Archive& ar) {
    ar(raw_, lock_);
  }

 private:
  RawValue<T> raw_;
  RLock lock_;
};

// A fixed number of T in shared memory, zero-filled or copied from a range; no lock.
template <class T>
class RawArray {
 public:
  // An empty array (what a received array is decoded into).
  RawArray() = default;
  explicit RawArray(std::size_t size) { allocate(size); }
  RawArray(std::initializer_list<T> values) : RawArray(std::span<const T>(values)) {}
  explicit RawArray(std::span<const T> values) {
    allocate(values.size());
    std::copy(values.begin(), values.end(), data());
  }

  std::size_t size() const noexcept { return size_; }
  T* data() const noexcept { return std::launder(reinterpret_cast<T*>(block_.data())); }
  std::span<T> span() const noexcept { return {data(), size_}; }
  T* begin() const noexcept { return data(); }
  T* end() const noexcept { return data() + size_; }
  T& operator[](std::size_t i) const noexcept { return data()[i]; }
  // Throws std::out_of_range past the end.
  T& at(std::size_t i) const {
    if (i >= size_) {
      detail::throw_shared_index(i, size_);
    }
    return data()[i];
  }
  std::vector<T> to_vector() const { return {begin(), end()}; }

  template <class Archive>
  void save(Archive& ar) const {
    ar(block_, static_cast<std::uint64_t>(size_));
  }
  template <class Archive>
  void load(Archive& ar) {
    std::uint64_t n = 0;
    ar(block_, n);
    if (n * sizeof(T) > block_.size()) {
      throw SerializationError("mp: a shared array's memory is smaller than its length");
    }
    size_ = static_cast<std::size_t>(n);
  }

 private:
  void allocate(std::size_t size) {
    detail::check_shareable<T>();
    if (size > (std::size_t{1} << 46) / sizeof(T)) {
      throw std::length_error("mp: a shared array of " + std::to_string(size) +
                              " elements is larger than mp can map");
    }
    block_ = detail::SharedBlock::create(size * sizeof(T), "mp-array");
    if constexpr (!std::is_trivially_default_constructible_v<T>) {
      std::uninitialized_value_construct_n(data(), size);
    }  // else the fresh memory file's zero bytes are the zero values: a 1 GiB array costs
       // no memory until it is written
    size_ = size;
  }

  detail::SharedBlock block_;
  std::size_t size_ = 0;
};

// A shared array with a lock (Python's Array(..., lock=True)). Element access is not
// locked: hold get_lock() around accesses that must not interleave, or use update().
template <class T>
class Array : public RawArray<T> {
 public:
  using RawArray<T>::RawArray;

  RLock& get_lock() noexcept { return lock_; }
  // Calls f(std::span<T>) under the lock and returns what it returns.
  template <class F>
  decltype(auto) update(F&& f) {
    std::lock_guard g(lock_);
    return std::forward<F>(f)(this->span());
  }
  // A copy of the elements, taken under the lock.
  std::vector<T> snapshot() {
    std::lock_guard g(lock_);
    return this->to_vector();
  }

  template <class Archive>
  void save(Archive& ar) const {
    RawArray<T>::save(ar);
    ar(lock_);
  }
  template <class Archive>
  void load(Archive& ar) {
    RawArray<T>::load(ar);
    ar(lock_);
  }

 private:
  RLock lock_;
};

}  // namespace mp
