// The registry that maps callable ids to trampolines (include/mp/detail/callable.hpp).
#include <xxhash.h>

#include <mutex>
#include <string_view>
#include <unordered_map>

#include "mp/detail/callable.hpp"

namespace mp::detail {
namespace {

struct Registry {
  std::mutex mutex;
  std::unordered_map<std::uint64_t, Trampoline> by_id;
};

// Built on first use: registrations run during static initialisation, in any order.
Registry& registry() {
  static Registry r;
  return r;
}

}  // namespace

std::uint64_t register_trampoline(std::string_view name, Trampoline fn) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::uint64_t id = XXH3_64bits(name.data(), name.size());
  for (;;) {
    if (id == 0) {
      ++id;
      continue;
    }
    auto [it, inserted] = r.by_id.emplace(id, fn);
    if (inserted || it->second == fn) {
      return id;
    }
    ++id;  // distinct type, same hash: next id, deterministically
  }
}

Trampoline find_trampoline(std::uint64_t id) noexcept {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  auto it = r.by_id.find(id);
  return it == r.by_id.end() ? nullptr : it->second;
}

}  // namespace mp::detail
