#include <algorithm>
#include <boost/container/vector.hpp>
#include <boost/interprocess/allocators/allocator.hpp>
#include <boost/interprocess/containers/map.hpp>
#include <boost/interprocess/exceptions.hpp>
#include <boost/interprocess/managed_external_buffer.hpp>
#include <boost/interprocess/offset_ptr.hpp>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

#include "mp/detail/shared_container_core.hpp"
#include "mp/errors.hpp"
#include "mp/shared.hpp"
#include "shm/sync_words.hpp"

namespace mp::detail {
namespace {

namespace bip = boost::interprocess;

// The block: a Header, then the memory Boost.Interprocess manages. Everything in it is
// addressed by offsets (offset_ptr), so each process may map it anywhere.
using Segment = bip::managed_external_buffer;
using SegmentManager = Segment::segment_manager;
template <class T>
using Alloc = bip::allocator<T, SegmentManager>;
using ShmBytes = boost::container::vector<std::byte, Alloc<std::byte>>;

struct Entry {
  std::uint64_t order;  // when its key was first set: the map's iteration order
  ShmBytes value;
};

// Orders encoded keys; equal keys are equal bytes.
struct BytesLess {
  using is_transparent = void;
  static bool less(const std::byte* a, std::size_t na, const std::byte* b, std::size_t nb) {
    const int c = std::memcmp(a, b, std::min(na, nb));
    return c < 0 || (c == 0 && na < nb);
  }
  bool operator()(const ShmBytes& a, const ShmBytes& b) const {
    return less(a.data(), a.size(), b.data(), b.size());
  }
  bool operator()(const ShmBytes& a, ByteView b) const {
    return less(a.data(), a.size(), b.data(), b.size());
  }
  bool operator()(ByteView a, const ShmBytes& b) const {
    return less(a.data(), a.size(), b.data(), b.size());
  }
};

using ShmMap =
    boost::container::map<ShmBytes, Entry, BytesLess, Alloc<std::pair<const ShmBytes, Entry>>>;
using ShmList = boost::container::vector<ShmBytes, Alloc<ShmBytes>>;

constexpr std::uint64_t kMagic = 0x6d70'7368'6364'6301ull;  // "mpshcdc", version 1

struct Header {
  std::uint64_t magic;
  std::uint32_t kind;
  shm::LockWord lock;
  // Set while an entry is being changed; still set when the lock's holder died, so the
  // next holder knows the structure may be half-changed.
  std::uint32_t changing;
  std::uint32_t broken;
  std::uint64_t next_order;
  bip::offset_ptr<ShmMap> map;
  bip::offset_ptr<ShmList> list;
  char what[32];
};

constexpr std::size_t kHeaderBytes = 256;
static_assert(sizeof(Header) <= kHeaderBytes);
// Boost's allocator needs room for its own bookkeeping.
constexpr std::size_t kMinCapacity = 64 * 1024;

Header& header(const SharedBlock& b) { return *reinterpret_cast<Header*>(b.data()); }

std::string name_of(const Header& h) { return std::string(h.what, strnlen(h.what, sizeof h.what)); }

// Holds the container's lock for one call. A holder that died while changing the
// container breaks it for good: its entries may be half-written.
class Locked {
 public:
  Locked(const SharedBlock& b, bool changes) : h_(header(b)), changes_(changes) {
    if (h_.lock.owner() == shm::current_tid()) {
      throw std::logic_error("mp: " + name_of(h_) +
                             " was used by the function given to its own update()");
    }
    if (h_.lock.lock(shm::Deadline::max()) == shm::LockResult::owner_died && h_.changing != 0) {
      h_.broken = 1;
    }
    if (h_.broken != 0) {
      h_.lock.unlock();
      throw OwnerDied("mp: a process died while changing this " + name_of(h_) +
                      "; its entries cannot be trusted any more");
    }
    if (changes_) {
      h_.changing = 1;
    }
  }
  ~Locked() {
    if (changes_) {
      h_.changing = 0;
    }
    h_.lock.unlock();
  }
  Locked(const Locked&) = delete;
  Locked& operator=(const Locked&) = delete;
  Header& held() { return h_; }

 private:
  Header& h_;
  bool changes_;
};

[[noreturn]] void throw_full(const Header& h, std::size_t capacity) {
  throw std::length_error("mp: " + name_of(h) + " is full: its entries take all of its " +
                          std::to_string(capacity) +
                          " bytes of shared memory; give it a larger capacity");
}

ShmBytes to_shm(ByteView v, SegmentManager* sm) {
  return ShmBytes(v.begin(), v.end(), Alloc<std::byte>(sm));
}

Bytes to_bytes(const ShmBytes& v) { return Bytes(v.begin(), v.end()); }

// Runs `change` on the container's memory; Boost's bad_alloc (the block is full) becomes
// a clear error, and the entry being changed is left as it was.
template <class F>
auto changing(const SharedBlock& b, F&& change) {
  Locked l(b, true);
  try {
    return change(l.held());
  } catch (const bip::bad_alloc&) {
    throw_full(l.held(), b.size());
  }
}

template <class Container>
SegmentManager* segment_of(const Container& c) {
  return c.get_allocator().get_segment_manager();
}

template <class F>
auto reading(const SharedBlock& b, F&& read) {
  Locked l(b, false);
  return read(l.held());
}

ShmMap& map_of(Header& h) {
  if (h.kind != static_cast<std::uint32_t>(SharedContainerCore::Kind::map)) {
    throw std::logic_error("mp: " + name_of(h) + " is not a map");
  }
  return *h.map;
}

ShmList& list_of(Header& h) {
  if (h.kind != static_cast<std::uint32_t>(SharedContainerCore::Kind::list)) {
    throw std::logic_error("mp: " + name_of(h) + " is not a list");
  }
  return *h.list;
}

}  // namespace

SharedContainerCore SharedContainerCore::create(Kind kind, std::size_t capacity, const char* what) {
  if (capacity < kMinCapacity) {
    throw std::invalid_argument("mp: " + std::string(what) + "'s capacity must be at least " +
                                std::to_string(kMinCapacity) + " bytes, not " +
                                std::to_string(capacity));
  }
  SharedBlock block = SharedBlock::create(capacity, "mp-container");
  Header* h = new (block.data()) Header{};
  h->magic = kMagic;
  h->kind = static_cast<std::uint32_t>(kind);
  std::strncpy(h->what, what, sizeof h->what - 1);
  Segment seg(bip::create_only, block.data() + kHeaderBytes, capacity - kHeaderBytes);
  SegmentManager* sm = seg.get_segment_manager();
  if (kind == Kind::map) {
    h->map =
        seg.construct<ShmMap>(bip::anonymous_instance)(BytesLess{}, ShmMap::allocator_type(sm));
  } else {
    h->list = seg.construct<ShmList>(bip::anonymous_instance)(ShmList::allocator_type(sm));
  }
  return SharedContainerCore(std::move(block));
}

void SharedContainerCore::check_attached() const {
  if (!block_ || block_.size() < kMinCapacity || header(block_).magic != kMagic) {
    throw SerializationError("mp: the shared memory received is not a SharedDict or SharedList");
  }
}

std::size_t SharedContainerCore::size() const {
  return reading(block_, [](Header& h) {
    return h.kind == static_cast<std::uint32_t>(Kind::map) ? map_of(h).size() : list_of(h).size();
  });
}

void SharedContainerCore::clear() {
  changing(block_, [](Header& h) {
    if (h.kind == static_cast<std::uint32_t>(Kind::map)) {
      map_of(h).clear();
    } else {
      list_of(h).clear();
    }
  });
}

void SharedContainerCore::set(ByteView key, ByteView value) {
  update(key, [value](const Bytes*) { return Bytes(value.begin(), value.end()); });
}

void SharedContainerCore::update(ByteView key, const std::function<Bytes(const Bytes*)>& change) {
  changing(block_, [&](Header& h) {
    ShmMap& m = map_of(h);
    auto it = m.find(key);
    std::optional<Bytes> old;
    if (it != m.end()) {
      old = to_bytes(it->second.value);
    }
    const Bytes next = change(old ? &*old : nullptr);
    SegmentManager* sm = segment_of(m);
    // Made in full before the entry is touched: a full block leaves the entry as it was.
    ShmBytes stored = to_shm(next, sm);
    if (it != m.end()) {
      it->second.value = std::move(stored);
    } else {
      Entry e{h.next_order++, std::move(stored)};
      m.emplace(to_shm(key, sm), std::move(e));
    }
  });
}

std::optional<Bytes> SharedContainerCore::get(ByteView key) const {
  return reading(block_, [&](Header& h) -> std::optional<Bytes> {
    ShmMap& m = map_of(h);
    const auto it = m.find(key);
    if (it == m.end()) {
      return std::nullopt;
    }
    return to_bytes(it->second.value);
  });
}

bool SharedContainerCore::contains(ByteView key) const {
  return reading(block_, [&](Header& h) {
    ShmMap& m = map_of(h);
    return m.find(key) != m.end();
  });
}

bool SharedContainerCore::erase(ByteView key) {
  return changing(block_, [&](Header& h) {
    ShmMap& m = map_of(h);
    const auto it = m.find(key);
    if (it == m.end()) {
      return false;
    }
    m.erase(it);
    return true;
  });
}

std::vector<std::pair<Bytes, Bytes>> SharedContainerCore::items() const {
  std::vector<std::pair<std::uint64_t, std::pair<Bytes, Bytes>>> ordered =
      reading(block_, [](Header& h) {
        std::vector<std::pair<std::uint64_t, std::pair<Bytes, Bytes>>> out;
        ShmMap& m = map_of(h);
        out.reserve(m.size());
        for (const auto& [k, e] : m) {
          out.push_back({e.order, {to_bytes(k), to_bytes(e.value)}});
        }
        return out;
      });
  std::sort(ordered.begin(), ordered.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::pair<Bytes, Bytes>> out;
  out.reserve(ordered.size());
  for (auto& o : ordered) {
    out.push_back(std::move(o.second));
  }
  return out;
}

void SharedContainerCore::push_back(ByteView item) {
  changing(block_, [&](Header& h) {
    ShmList& l = list_of(h);
    ShmBytes stored = to_shm(item, segment_of(l));
    l.push_back(std::move(stored));
  });
}

Bytes SharedContainerCore::at(std::size_t index) const {
  return reading(block_, [&](Header& h) {
    ShmList& l = list_of(h);
    if (index >= l.size()) {
      throw_shared_index(index, l.size());
    }
    return to_bytes(l[index]);
  });
}

void SharedContainerCore::assign(std::size_t index, ByteView item) {
  changing(block_, [&](Header& h) {
    ShmList& l = list_of(h);
    if (index >= l.size()) {
      throw_shared_index(index, l.size());
    }
    ShmBytes stored = to_shm(item, segment_of(l));
    l[index] = std::move(stored);
  });
}

std::optional<Bytes> SharedContainerCore::pop_back() {
  return changing(block_, [&](Header& h) -> std::optional<Bytes> {
    ShmList& l = list_of(h);
    if (l.empty()) {
      return std::nullopt;
    }
    Bytes last = to_bytes(l.back());
    l.pop_back();
    return last;
  });
}

std::vector<Bytes> SharedContainerCore::all() const {
  return reading(block_, [](Header& h) {
    std::vector<Bytes> out;
    for (const ShmBytes& item : list_of(h)) {
      out.push_back(to_bytes(item));
    }
    return out;
  });
}

}  // namespace mp::detail
