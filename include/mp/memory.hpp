// mp::Memory: joblib's Memory, a persistent cache of function results on disk.
//
// Python:  memory = Memory("cachedir"); calc = memory.cache(calc_pi); calc(10**7)
// C++:     mp::Memory memory("cachedir"); auto calc = memory.cache(calc_pi); calc(10'000'000);
//
// The first call runs the function and stores its result; a later call with equal
// arguments, in this process or in a program run tomorrow, returns the stored result.
// Entries live in an SQLite database in the directory (`cache.db`), large results in
// files beside it (`results/`, mapped into memory when read), keyed by an xxHash of:
// the function (its name, or its type and symbol), its argument and result types, the
// version string, the build id of the binary that holds the function (so a rebuilt program
// recomputes; turn it off to keep results across builds), and the arguments' encoding
// (include/mp/serialize.hpp; give plain structs no padding, whose bytes are undefined).
//
// A cached function is a function object that can be sent: `pool.map(calc, xs)` and
// Parallel calls use the cache from the workers, and several processes may fill one cache
// at once. A stored entry carries a checksum; one that fails it, or does not decode, is
// dropped and recomputed, never returned. With a size limit, the entries used least
// recently go first. A full disk or a read-only database leaves results uncached (said
// once on stderr); a directory that cannot be created, or a file there that is not a
// cache, throws mp::CacheError.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "mp/detail/bytes.hpp"
#include "mp/detail/cache_store.hpp"
#include "mp/detail/callable.hpp"
#include "mp/detail/codec.hpp"
#include "mp/errors.hpp"

namespace mp {

struct MemoryOptions {
  // The cache's directory, created if missing.
  std::string location;
  // Part of every key: change it when what a cached function computes changes.
  std::string version{};
  // The build id of the binary holding the function is part of every key: a rebuilt
  // program recomputes. False keeps results across builds; then name each cached function
  // (Memory::cache's second argument) and keep the version up to date.
  bool invalidate_on_rebuild = true;
  // Bytes of stored results kept at most (0: no limit); the least recently used entries
  // are dropped beyond it, and a result larger than it is not stored.
  std::uint64_t bytes_limit = 0;
  // Results of at least this many bytes are kept in files beside the database
  // (results/), and read back by mapping them into memory.
  std::uint64_t file_threshold = std::uint64_t{1} << 20;
};

template <class F>
class CachedFunction;

// A result stored in the cache, not read yet (joblib's call_and_shelve).
template <class R>
class ShelvedResult {
 public:
  // The result, read from the cache. Throws mp::CacheError if it was dropped meanwhile
  // (evicted, cleared, found corrupt).
  R get() const {
    if (held_) {
      return *held_;
    }
    detail::CachedBytes stored;
    if (!store_->lookup(key_, stored)) {
      throw CacheError("mp: Memory: a shelved result is no longer in the cache");
    }
    return detail::decode_message<R>(stored.data(), stored.size());
  }
  // Drops it from the cache.
  void clear() const { store_->drop(key_); }

 private:
  template <class F>
  friend class CachedFunction;
  ShelvedResult(std::shared_ptr<detail::CacheStore> store, detail::CacheKey key,
                std::optional<R> held)
      : store_(std::move(store)), key_(key), held_(std::move(held)) {}
  std::shared_ptr<detail::CacheStore> store_;
  detail::CacheKey key_;
  std::optional<R> held_;  // a result the cache could not take (a full disk, the limit)
};

class Memory {
 public:
  // Opens (creating if needed) the cache in `location`; throws mp::CacheError if it cannot.
  // (A template, so that Memory({.location = ..., ...}) picks the options.)
  template <class Location>
  requires std::is_convertible_v<Location, std::string>
  explicit Memory(Location&& location)
      : Memory(MemoryOptions{.location = std::string(std::forward<Location>(location))}) {}
  explicit Memory(MemoryOptions options)
      : options_(std::move(options)), store_(detail::CacheStore::of(options_)) {}

  // `f` with its results cached: a function pointer, or a function object that can be
  // sent to a worker (as for Pool). `name` identifies it in the cache (default: its type,
  // and its symbol for a function pointer).
  template <class F>
  auto cache(F f, std::string name = {}) const {
    using Stored = detail::sent_function_t<std::decay_t<F>>;
    return CachedFunction<Stored>(options_, Stored{f}, std::move(name));
  }

  // Drops every entry.
  void clear() const { store()->clear(); }
  // Bytes of results stored.
  std::uint64_t size_bytes() const { return store()->size_bytes(); }
  // Entries stored.
  std::uint64_t entries() const { return store()->entries(); }
  const MemoryOptions& options() const { return options_; }

 private:
  std::shared_ptr<detail::CacheStore> store() const {
    return detail::CacheStore::here(store_, options_);
  }
  MemoryOptions options_;
  std::shared_ptr<detail::CacheStore> store_;
};

template <class F>
class CachedFunction {
  // What f returns for these arguments.
  template <class... Args>
  using result_t = std::decay_t<decltype(detail::function_of(std::declval<const F&>())(
      std::declval<const Args&>()...))>;

 public:
  CachedFunction() = default;  // for decoding in a worker
  CachedFunction(MemoryOptions options, F f, std::string name)
      : options_(std::move(options)), f_(std::move(f)), name_(std::move(name)) {
    identify();
  }

  // The stored result of f(args...), or f(args...) computed and stored.
  template <class... Args>
  auto operator()(const Args&... args) const {
    using R = result_t<Args...>;
    const detail::CacheKey key = key_of<R>(args...);
    const auto store = this->store();
    detail::CachedBytes stored;
    if (store->lookup(key, stored)) {
      try {
        return detail::decode_message<R>(stored.data(), stored.size());
      } catch (const std::exception&) {
        store->drop(key);  // does not decode (another build's R): computed again below
      }
    }
    return compute_and_store(*store, key, args...);
  }

  // Computes f(args...) unless it is stored, and returns a handle to the stored result
  // without reading it (joblib's call_and_shelve).
  template <class... Args>
  ShelvedResult<result_t<Args...>> call_and_shelve(const Args&... args) const {
    using R = result_t<Args...>;
    const detail::CacheKey key = key_of<R>(args...);
    const auto store = this->store();
    std::optional<R> held;
    if (!store->contains(key)) {
      R result = compute_and_store(*store, key, args...);
      if (!store->contains(key)) {
        held.emplace(std::move(result));
      }
    }
    return ShelvedResult<R>(store, key, std::move(held));
  }

  // Whether f(args...) has a result stored (joblib's check_call_in_cache).
  template <class... Args>
  bool check_call_in_cache(const Args&... args) const {
    return store()->contains(key_of<result_t<Args...>>(args...));
  }

  // Drops this function's entries (all its arguments).
  void clear() const { store()->clear_function(identity_); }

  // The function's name in the cache.
  const std::string& identity() const { return identity_; }

  template <class Archive>
  void save(Archive& ar) const {
    ar(options_.location, options_.version, options_.invalidate_on_rebuild, options_.bytes_limit,
       name_);
    save_function(ar);
  }
  template <class Archive>
  void load(Archive& ar) {
    ar(options_.location, options_.version, options_.invalidate_on_rebuild, options_.bytes_limit,
       name_);
    load_function(ar);
    identify(/*keep_open=*/true);
  }

 private:
  template <class... Args>
  result_t<Args...> compute_and_store(detail::CacheStore& store, const detail::CacheKey& key,
                                      const Args&... args) const {
    result_t<Args...> result = detail::function_of(f_)(args...);
    detail::VectorWriter w;
    detail::encode(w, result);
    store.store(key, identity_, w.data(), w.size());
    return result;
  }

  // A copy that came through fork opens its own connection.
  std::shared_ptr<detail::CacheStore> store() const {
    return detail::CacheStore::here(store_, options_);
  }

  void identify(bool keep_open = false) {
    store_ = detail::CacheStore::of(options_, keep_open);
    identity_ = detail::cached_function_identity(
        name_, detail::type_name<F>(), detail::code_address_for_cache(f_),
        reinterpret_cast<std::uintptr_t>(&detail::cache_anchor<F>), options_.invalidate_on_rebuild);
  }

  // A function object without cereal support (a lambda) travels as its bytes, as Pool
  // sends it.
  template <class Archive>
  void save_function(Archive& ar) const {
    if constexpr (detail::cereal_codec_v<F>) {
      ar(f_);
    } else {
      static_assert(std::is_trivially_copyable_v<F>,
                    "mp: a cached function object must be trivially copyable or have a cereal "
                    "serialize() to travel to a worker");
      ar(cereal::binary_data(&f_, sizeof f_));
    }
  }
  template <class Archive>
  void load_function(Archive& ar) {
    if constexpr (detail::cereal_codec_v<F>) {
      ar(f_);
    } else {
      ar(cereal::binary_data(&f_, sizeof f_));
    }
  }

  template <class R, class... Args>
  detail::CacheKey key_of(const Args&... args) const {
    static_assert(!std::is_void_v<R>, "mp: Memory caches results; this function returns void");
    detail::VectorWriter w;
    (detail::encode(w, args), ...);
    return detail::cache_key(identity_, options_.version,
                             detail::type_name<std::tuple<R, std::tuple<Args...>>>(), w.data(),
                             w.size());
  }

  MemoryOptions options_;
  F f_{};
  std::string name_;
  std::string identity_;
  std::shared_ptr<detail::CacheStore> store_;
};

}  // namespace mp
