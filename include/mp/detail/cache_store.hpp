// The store under mp::Memory (src/cache/): keys, function identities and the SQLite
// database, behind a few non-template calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "mp/detail/callable.hpp"

namespace mp {
struct MemoryOptions;
}

namespace mp::detail {

// xxHash3-128 of a call: the function's identity, the version, the types, the arguments.
struct CacheKey {
  std::uint64_t high = 0;
  std::uint64_t low = 0;
};
CacheKey cache_key(std::string_view function, std::string_view version, std::string_view types,
                   const std::byte* arguments, std::size_t size);

// `name` if given, else `type` and (for a function pointer at `code`) its symbol; followed
// by the build id of the binary that holds `code` (or `anchor`, code instantiated for the
// function's type) when `with_build_id`.
std::string cached_function_identity(std::string_view name, std::string_view type,
                                     std::uintptr_t code, std::uintptr_t anchor,
                                     bool with_build_id);

template <class F>
std::uintptr_t code_address_for_cache(const F&) {
  return 0;
}
template <class F>
std::uintptr_t code_address_for_cache(const SentFunction<F>& sent) {
  return reinterpret_cast<std::uintptr_t>(sent.f);
}
// Code of the binary that instantiates the cache for F: where F's build id is looked up.
template <class F>
void cache_anchor() {}

// The bytes of a stored result: read from the database, or a file mapped into memory.
class CachedBytes {
 public:
  CachedBytes() = default;
  ~CachedBytes();
  CachedBytes(const CachedBytes&) = delete;
  CachedBytes& operator=(const CachedBytes&) = delete;
  const std::byte* data() const { return data_; }
  std::size_t size() const { return size_; }
  // The store's side.
  void hold(std::vector<std::byte> bytes);
  void hold_mapping(void* map, std::size_t size);

 private:
  std::vector<std::byte> buffer_;
  void* map_ = nullptr;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

// One cache directory's database, as one connection (which must not cross a fork).
class CacheStore {
 public:
  // The store of `options.location`, opened (once per process) if it is not open. It is
  // closed when the last holder lets it go; with `keep_open`, when the process ends (a
  // worker decodes a cached function with every message, and opening costs more than a
  // call).
  static std::shared_ptr<CacheStore> of(const MemoryOptions& options, bool keep_open = false);
  virtual ~CacheStore() = default;
  // False in a child forked from the process that opened it: use of() there.
  bool opened_here() const;
  // `held` if this process opened it, else this process's own store of `options` (a
  // holder copied through fork).
  static std::shared_ptr<CacheStore> here(const std::shared_ptr<CacheStore>& held,
                                          const MemoryOptions& options) {
    return held->opened_here() ? held : of(options);
  }

  // The stored bytes of `key`, if there is an entry whose checksum holds; an entry that
  // fails it (or whose file is gone) is dropped.
  virtual bool lookup(const CacheKey& key, CachedBytes& out) = 0;
  virtual bool contains(const CacheKey& key) = 0;
  // Stores (or replaces) an entry, then drops the least recently used beyond the limit.
  // A large one goes to a file beside the database. A store that fails (a full disk, a
  // read-only file) leaves the entry out.
  virtual void store(const CacheKey& key, std::string_view function, const std::byte* data,
                     std::size_t size) = 0;
  virtual void drop(const CacheKey& key) = 0;
  virtual void clear() = 0;
  virtual void clear_function(std::string_view function) = 0;
  virtual std::uint64_t size_bytes() = 0;
  virtual std::uint64_t entries() = 0;

 protected:
  CacheStore();

 private:
  long opener_;  // the pid of the process that opened it
};

}  // namespace mp::detail
