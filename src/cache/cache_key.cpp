// Keys of mp::Memory's entries: what names a cached function, and the hash of a call.
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <xxhash.h>

#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>

#include "mp/detail/cache_store.hpp"

namespace mp::detail {

namespace {

struct BuildIdSearch {
  std::uintptr_t address = 0;
  std::string id;  // hex
  bool found = false;
};

// The hex of the NT_GNU_BUILD_ID note of the module that holds `search->address`.
int find_build_id(dl_phdr_info* info, std::size_t, void* data) {
  auto* search = static_cast<BuildIdSearch*>(data);
  bool holds = false;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    const std::uintptr_t start = info->dlpi_addr + ph.p_vaddr;
    if (ph.p_type == PT_LOAD && search->address >= start && search->address < start + ph.p_memsz) {
      holds = true;
    }
  }
  if (!holds) {
    return 0;
  }
  search->found = true;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) {
      continue;
    }
    const auto* p = reinterpret_cast<const unsigned char*>(info->dlpi_addr + ph.p_vaddr);
    const unsigned char* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      ElfW(Nhdr) note;
      std::memcpy(&note, p, sizeof note);
      const unsigned char* name = p + sizeof note;
      const unsigned char* desc = name + ((note.n_namesz + 3) & ~3u);
      if (note.n_type == NT_GNU_BUILD_ID && note.n_namesz == 4 &&
          std::memcmp(name, "GNU", 4) == 0 && desc + note.n_descsz <= end) {
        static constexpr char kHex[] = "0123456789abcdef";
        for (std::uint32_t b = 0; b < note.n_descsz; ++b) {
          search->id += kHex[desc[b] >> 4];
          search->id += kHex[desc[b] & 15];
        }
        return 1;
      }
      p = desc + ((note.n_descsz + 3) & ~3u);
    }
  }
  return 1;  // the module, without a build id
}

// The build id of the module holding `address`; without one, the module's path and size
// (a rebuilt file differs in one or the other often enough to be the fallback).
std::string build_id_of(std::uintptr_t address) {
  static std::mutex m;
  static auto* known = new std::unordered_map<std::uintptr_t, std::string>;
  Dl_info dl{};
  const std::uintptr_t base = ::dladdr(reinterpret_cast<void*>(address), &dl) != 0
                                  ? reinterpret_cast<std::uintptr_t>(dl.dli_fbase)
                                  : address;
  std::lock_guard lock(m);
  if (auto it = known->find(base); it != known->end()) {
    return it->second;
  }
  BuildIdSearch search;
  search.address = address;
  ::dl_iterate_phdr(find_build_id, &search);
  std::string id = !search.id.empty()        ? search.id
                   : dl.dli_fname != nullptr ? std::string("file:") + dl.dli_fname
                                             : std::string("unknown");
  known->emplace(base, id);
  return id;
}

}  // namespace

CacheKey cache_key(std::string_view function, std::string_view version, std::string_view types,
                   const std::byte* arguments, std::size_t size) {
  XXH3_state_t* state = XXH3_createState();
  XXH3_128bits_reset(state);
  // Each part's length first, so that no two different splits hash alike.
  const auto part = [state](const void* data, std::size_t n) {
    const std::uint64_t len = n;
    XXH3_128bits_update(state, &len, sizeof len);
    XXH3_128bits_update(state, data, n);
  };
  part(function.data(), function.size());
  part(version.data(), version.size());
  part(types.data(), types.size());
  part(arguments, size);
  const XXH128_hash_t h = XXH3_128bits_digest(state);
  XXH3_freeState(state);
  return {h.high64, h.low64};
}

std::string cached_function_identity(std::string_view name, std::string_view type,
                                     std::uintptr_t code, std::uintptr_t anchor,
                                     bool with_build_id) {
  std::string id;
  if (!name.empty()) {
    id = name;
  } else {
    id = type;
    Dl_info dl{};
    if (code != 0 && ::dladdr(reinterpret_cast<void*>(code), &dl) != 0) {
      if (dl.dli_sname != nullptr && dl.dli_saddr == reinterpret_cast<void*>(code)) {
        id += " ";
        id += dl.dli_sname;
      } else {
        // Not exported (static, or in an executable without -rdynamic): its place.
        id += " +" + std::to_string(code - reinterpret_cast<std::uintptr_t>(dl.dli_fbase));
      }
    }
  }
  if (with_build_id) {
    id += " @";
    id += build_id_of(code != 0 ? code : anchor);
  }
  return id;
}

}  // namespace mp::detail
