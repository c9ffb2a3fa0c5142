// Function pointers as (module, offset): the same in a forked child and in a fresh exec
// of the same program, whatever address-space randomisation did. An address that does
// not land in executable code of a loaded module is refused instead of being called.
#include <link.h>
#include <xxhash.h>

#include <cstring>
#include <mutex>
#include <string>
#include <unordered_map>

#include "mp/detail/callable.hpp"
#include "mp/errors.hpp"

namespace mp::detail {
namespace {

std::uint64_t module_id(const char* name) { return XXH3_64bits(name, std::strlen(name)); }

struct Search {
  std::uintptr_t addr = 0;  // in: address to locate (encode)
  CodeAddress code;         // in: code address to resolve (decode)
  bool encode = true;
  bool found = false;
  std::uintptr_t result = 0;
};

bool in_executable_segment(const dl_phdr_info* info, std::uintptr_t addr) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X) != 0) {
      const std::uintptr_t start = info->dlpi_addr + ph.p_vaddr;
      if (addr >= start && addr < start + ph.p_memsz) {
        return true;
      }
    }
  }
  return false;
}

int visit(dl_phdr_info* info, std::size_t, void* data) {
  auto* s = static_cast<Search*>(data);
  const char* name = info->dlpi_name != nullptr ? info->dlpi_name : "";
  if (s->encode) {
    if (in_executable_segment(info, s->addr)) {
      s->code = {module_id(name), s->addr - info->dlpi_addr};
      s->found = true;
      return 1;
    }
  } else if (module_id(name) == s->code.module) {
    const std::uintptr_t addr = info->dlpi_addr + s->code.offset;
    if (in_executable_segment(info, addr)) {
      s->result = addr;
      s->found = true;
    }
    return 1;
  }
  return 0;
}

struct Cache {
  std::mutex mutex;
  std::unordered_map<std::uintptr_t, CodeAddress> encoded;
  std::unordered_map<std::uint64_t, std::uintptr_t> decoded;  // key: module ^ offset mix
};
Cache& cache() {
  static Cache c;
  return c;
}
std::uint64_t key(const CodeAddress& a) { return a.module * 0x9E3779B97F4A7C15ull ^ a.offset; }

}  // namespace

CodeAddress code_address_of(std::uintptr_t fn) {
  thread_local std::uintptr_t last_fn = 0;
  thread_local CodeAddress last;
  if (fn == last_fn && fn != 0) {
    return last;
  }
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  auto it = c.encoded.find(fn);
  if (it == c.encoded.end()) {
    Search s;
    s.addr = fn;
    dl_iterate_phdr(visit, &s);
    if (!s.found) {
      throw SerializationError("mp: the function to run is not in the code of any loaded module");
    }
    it = c.encoded.emplace(fn, s.code).first;
  }
  last_fn = fn;
  last = it->second;
  return last;
}

std::uintptr_t resolve_code_address(const CodeAddress& a) {
  thread_local CodeAddress last{};
  thread_local std::uintptr_t last_fn = 0;
  if (last_fn != 0 && last.module == a.module && last.offset == a.offset) {
    return last_fn;
  }
  Cache& c = cache();
  std::lock_guard lock(c.mutex);
  auto it = c.decoded.find(key(a));
  std::uintptr_t fn = 0;
  if (it != c.decoded.end()) {
    fn = it->second;
  } else {
    Search s;
    s.encode = false;
    s.code = a;
    dl_iterate_phdr(visit, &s);
    if (!s.found) {
      throw SerializationError(
          "mp: a task named a function that is not executable code of this program");
    }
    fn = s.result;
    c.decoded.emplace(key(a), fn);
  }
  last = a;
  last_fn = fn;
  return fn;
}

}  // namespace mp::detail
