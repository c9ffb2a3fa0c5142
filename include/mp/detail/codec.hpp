// Encoding of task arguments, callables' state and results into message bytes.
//
// Values take the cheapest path their type allows, decided at compile time:
//   trivially copyable (ints, doubles, PODs, std::array<double, N>) -> one memcpy
//   std::string, std::vector, std::array, std::pair, std::tuple, std::optional of such types
//     -> a length prefix and memcpy of contiguous storage where the element type allows it
//   anything else cereal can serialize (maps, sets, variants, user types with serialize())
//     -> a cereal binary archive writing straight into the message
// A type none of these accept fails to compile with a message naming the remedy.
#pragma once

#include "mp/detail/bounded_archive.hpp"
#include "mp/detail/bytes.hpp"

#include <algorithm>
#include <cereal/archives/binary.hpp>
#include <cereal/details/traits.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/bitset.hpp>
#include <cereal/types/chrono.hpp>
#include <cereal/types/complex.hpp>
#include <cereal/types/deque.hpp>
#include <cereal/types/list.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/memory.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/set.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/unordered_map.hpp>
#include <cereal/types/unordered_set.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <streambuf>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace mp::detail {

// ---------------------------------------------------------------------------------------
// Type classification

template <class T, template <class...> class Tmpl>
struct is_specialization : std::false_type {};
template <template <class...> class Tmpl, class... A>
struct is_specialization<Tmpl<A...>, Tmpl> : std::true_type {};

template <class T>
struct is_std_array : std::false_type {};
template <class T, std::size_t N>
struct is_std_array<std::array<T, N>> : std::true_type {};

// Plain bytes that mean the same thing in another process. Pointers do not.
template <class T>
inline constexpr bool is_bitwise_v = std::is_trivially_copyable_v<T> && !std::is_pointer_v<T> &&
                                     !std::is_member_pointer_v<T> && !std::is_reference_v<T>;

template <class T>
struct fast_codec : std::bool_constant<is_bitwise_v<T>> {};
template <class C, class Tr, class A>
struct fast_codec<std::basic_string<C, Tr, A>> : std::bool_constant<is_bitwise_v<C>> {};
template <class T, class A>
struct fast_codec<std::vector<T, A>> : fast_codec<T> {};
template <class T, std::size_t N>
struct fast_codec<std::array<T, N>> : fast_codec<T> {};
template <class A, class B>
struct fast_codec<std::pair<A, B>>
    : std::bool_constant<fast_codec<A>::value && fast_codec<B>::value> {};
template <class... A>
struct fast_codec<std::tuple<A...>> : std::bool_constant<(fast_codec<A>::value && ...)> {};
template <class T>
struct fast_codec<std::optional<T>> : fast_codec<T> {};

template <class T>
inline constexpr bool cereal_codec_v =
    cereal::traits::is_output_serializable<T, cereal::BinaryOutputArchive>::value&&
        cereal::traits::is_input_serializable<T, BoundedBinaryInputArchive>::value;

// True when a value of type T can be sent to another process.
template <class T>
inline constexpr bool is_transferable_v =
    !std::is_pointer_v<std::remove_cvref_t<T>> &&
    (fast_codec<std::remove_cvref_t<T>>::value || cereal_codec_v<std::remove_cvref_t<T>>);

template <class T>
inline constexpr bool dependent_false_v = false;

// ---------------------------------------------------------------------------------------
// cereal bridge: archives over Writer/Reader without an intermediate buffer

class WriterStreambuf final : public std::streambuf {
 public:
  explicit WriterStreambuf(Writer& w) : w_(w) {}

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    w_.write(s, static_cast<std::size_t>(n));
    return n;
  }
  int_type overflow(int_type c) override {
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      const char ch = traits_type::to_char_type(c);
      w_.write(&ch, 1);
    }
    return traits_type::not_eof(c);
  }

 private:
  Writer& w_;
};

class ReaderStreambuf final : public std::streambuf {
 public:
  explicit ReaderStreambuf(Reader& r) : r_(r) { expose(); }
  ~ReaderStreambuf() override { consume(); }
  ReaderStreambuf(const ReaderStreambuf&) = delete;
  ReaderStreambuf& operator=(const ReaderStreambuf&) = delete;

 protected:
  // The get area ran out: more of the message may still be arriving.
  int_type underflow() override {
    consume();
    if (r_.at_end()) {
      return traits_type::eof();
    }
    expose();
    return traits_type::to_int_type(*gptr());
  }

 private:
  // The Reader's bytes that have arrived are contiguous: the get area is all of them.
  void expose() {
    char* b = const_cast<char*>(reinterpret_cast<const char*>(r_.position()));
    setg(b, b, b + r_.remaining());
  }
  void consume() {
    r_.take(static_cast<std::size_t>(gptr() - eback()));
    setg(gptr(), gptr(), gptr());
  }

  Reader& r_;
};

// ---------------------------------------------------------------------------------------
// encode / decode

// Backs a large fresh buffer with transparent huge pages and faults them in with one
// call, before it is written (no-op below a few MiB or where the system offers neither).
void prefault_huge_pages(void* data, std::size_t bytes) noexcept;

// A length read from a message must fit in it: a garbled message fails here instead of
// in an allocation of its length. (Bytes still arriving cannot be counted yet.)
inline void check_bulk_length(const Reader& r, std::uint64_t n, std::size_t unit) {
  if (!r.streaming() && n > r.remaining() / unit) {
    throw_truncated_message(n, r.remaining());
  }
}

template <class T>
void encode(Writer& w, const T& v);
template <class T>
void decode(Reader& r, T& v);
template <class T>
void encode_value(Writer& w, const T& v);
template <class T>
void decode_value(Reader& r, T& v);

template <class T>
void encode_fast(Writer& w, const T& v) {
  if constexpr (is_bitwise_v<T>) {
    w.write(&v, sizeof(T));
  } else if constexpr (is_specialization<T, std::basic_string>::value) {
    const std::uint64_t n = v.size();
    w.write(&n, sizeof n);
    w.write(v.data(), n * sizeof(typename T::value_type));
  } else if constexpr (is_specialization<T, std::vector>::value) {
    using E = typename T::value_type;
    const std::uint64_t n = v.size();
    w.write(&n, sizeof n);
    if constexpr (is_bitwise_v<E> && !std::is_same_v<E, bool>) {
      w.write(v.data(), n * sizeof(E));
    } else {
      for (const auto& e : v) {
        encode_fast<E>(w, e);
      }
    }
  } else if constexpr (is_std_array<T>::value) {
    for (const auto& e : v) {
      encode_fast(w, e);
    }
  } else if constexpr (is_specialization<T, std::pair>::value) {
    encode_fast(w, v.first);
    encode_fast(w, v.second);
  } else if constexpr (is_specialization<T, std::tuple>::value) {
    std::apply([&w](const auto&... e) { (encode_fast(w, e), ...); }, v);
  } else if constexpr (is_specialization<T, std::optional>::value) {
    const std::uint8_t has = v.has_value() ? 1 : 0;
    w.write(&has, 1);
    if (has) {
      encode_fast(w, *v);
    }
  } else {
    static_assert(dependent_false_v<T>, "mp: internal error: no fast codec for this type");
  }
}

template <class T>
void decode_fast(Reader& r, T& v) {
  if constexpr (is_bitwise_v<T>) {
    r.read(&v, sizeof(T));
  } else if constexpr (is_specialization<T, std::basic_string>::value) {
    std::uint64_t n = 0;
    r.read(&n, sizeof n);
    using C = typename T::value_type;
    check_bulk_length(r, n, sizeof(C));
    v.clear();
    v.reserve(n);
    // In pieces as they arrive when the message is still being written.
    for (std::size_t left = n * sizeof(C); left != 0;) {
      const std::byte* p = nullptr;
      const std::size_t k = r.take_some(left, sizeof(C), p);
      v.append(reinterpret_cast<const C*>(p), k / sizeof(C));
      left -= k;
    }
  } else if constexpr (is_specialization<T, std::vector>::value) {
    using E = typename T::value_type;
    std::uint64_t n = 0;
    r.read(&n, sizeof n);
    if constexpr (is_bitwise_v<E> && !std::is_same_v<E, bool>) {
      check_bulk_length(r, n, sizeof(E));
      // One pass into fresh memory (resize would zero it first), backed by huge pages
      // where the system allows: page faults dominate copies of fresh memory. In pieces
      // as they arrive when the message is still being written.
      v.clear();
      v.reserve(n);
      prefault_huge_pages(v.data(), n * sizeof(E));
      for (std::size_t left = n * sizeof(E); left != 0;) {
        const std::byte* p = nullptr;
        const std::size_t k = r.take_some(left, sizeof(E), p);
        if (reinterpret_cast<std::uintptr_t>(p) % alignof(E) == 0) {
          const E* first = reinterpret_cast<const E*>(p);
          v.insert(v.end(), first, first + k / sizeof(E));
        } else {
          const std::size_t at = v.size();
          v.resize(at + k / sizeof(E));
          std::memcpy(v.data() + at, p, k);
        }
        left -= k;
      }
    } else {
      // Every element takes at least one byte: a count beyond what has arrived is a broken
      // message, unless the rest is still arriving (then reserve no more than has come).
      if (n > r.remaining() && !r.streaming()) {
        throw_truncated_message(n, r.remaining());
      }
      v.clear();
      v.reserve(std::min<std::uint64_t>(n, r.remaining()));
      for (std::uint64_t i = 0; i < n; ++i) {
        E e{};
        decode_fast(r, e);
        v.push_back(std::move(e));
      }
    }
  } else if constexpr (is_std_array<T>::value) {
    for (auto& e : v) {
      decode_fast(r, e);
    }
  } else if constexpr (is_specialization<T, std::pair>::value) {
    decode_fast(r, v.first);
    decode_fast(r, v.second);
  } else if constexpr (is_specialization<T, std::tuple>::value) {
    std::apply([&r](auto&... e) { (decode_fast(r, e), ...); }, v);
  } else if constexpr (is_specialization<T, std::optional>::value) {
    std::uint8_t has = 0;
    r.read(&has, 1);
    if (has) {
      v.emplace();
      decode_fast(r, *v);
    } else {
      v.reset();
    }
  } else {
    static_assert(dependent_false_v<T>, "mp: internal error: no fast codec for this type");
  }
}

template <class T>
void encode(Writer& w, const T& v) {
  if constexpr (is_specialization<T, std::tuple>::value) {
    // Element by element, each on its own best path. Elements may be references (a
    // blocking call sends its arguments without copying them first); the bytes are those
    // of the tuple of values.
    std::apply([&w](const auto&... e) { (encode(w, e), ...); }, v);
  } else {
    encode_value(w, v);
  }
}

// encode() behind a plain function pointer, for a writer that must not see T (the queue
// encodes an item straight into its shared memory this way).
template <class T>
void encode_erased(Writer& w, const void* v) {
  encode(w, *static_cast<const T*>(v));
}

template <class T>
void decode(Reader& r, T& v) {
  if constexpr (is_specialization<T, std::tuple>::value) {
    std::apply([&r](auto&... e) { (decode(r, e), ...); }, v);
  } else {
    decode_value(r, v);
  }
}

template <class T>
void encode_value(Writer& w, const T& v) {
  static_assert(!std::is_pointer_v<T>,
                "mp: a raw pointer cannot cross a process boundary (its address means nothing "
                "in another process); send the value it points to instead");
  static_assert(is_transferable_v<T>,
                "mp: this type cannot cross a process boundary: make it trivially copyable or "
                "give it a cereal serialize() function (see include/mp/serialize.hpp)");
  if constexpr (fast_codec<T>::value) {
    encode_fast(w, v);
  } else {
    WriterStreambuf buf(w);
    std::ostream os(&buf);
    cereal::BinaryOutputArchive ar(os);
    ar(v);
  }
}

template <class T>
void decode_value(Reader& r, T& v) {
  static_assert(is_transferable_v<T>,
                "mp: this type cannot cross a process boundary: make it trivially copyable or "
                "give it a cereal serialize() function (see include/mp/serialize.hpp)");
  if constexpr (fast_codec<T>::value) {
    decode_fast(r, v);
  } else {
    // The whole value is there before cereal reads a size (pool items of such types are
    // framed, so this waits only for a value that is still arriving on its own).
    r.wait_complete();
    ReaderStreambuf buf(r);
    std::istream is(&buf);
    BoundedBinaryInputArchive ar(is, r.remaining());
    ar(v);
  }
}

// A value that is a whole message by itself (a queue's or a pipe's item).
template <class T>
T decode_message(const std::byte* data, std::size_t size) {
  T v{};
  Reader r(data, size);
  decode(r, v);
  return v;
}

// ---------------------------------------------------------------------------------------
// Storage prepared ahead of a large value
//
// A large vector or string is decoded into fresh memory, and faulting that in costs about
// as much as the copy into it. The transport announces a large block before its sender
// writes it (transport/channel.hpp), so the receiver can fault the memory in meanwhile, on
// another core, and decode into it once the message is complete.

template <class T>
struct bulk_element {
  using type = void;
};
template <class E, class A>
struct bulk_element<std::vector<E, A>> {
  using type = std::conditional_t<is_bitwise_v<E> && !std::is_same_v<E, bool>, E, void>;
};
template <class C, class Tr, class A>
struct bulk_element<std::basic_string<C, Tr, A>> {
  using type = std::conditional_t<is_bitwise_v<C>, C, void>;
};

// Decodes values of type T, with storage made ready in advance when T is a vector or
// string of plain elements (for other types prepare() does nothing). At most one
// prepared block is held; it goes to the first value of exactly its size.
template <class T, class E = typename bulk_element<T>::type>
class PreparedStorage {
 public:
  void prepare(std::size_t bytes) {
    if (!held_ && bytes >= sizeof(E)) {
      storage_.reserve(bytes / sizeof(E));
      prefault_huge_pages(storage_.data(), storage_.capacity() * sizeof(E));
      held_ = true;
    }
  }

  void decode(Reader& r, T& v) {
    std::uint64_t n = 0;
    if (held_ && r.remaining() >= sizeof n) {
      std::memcpy(&n, r.position(), sizeof n);  // the element count leads the value
      // reserve() may round a string's capacity up a little; a vector's is exact.
      if (storage_.capacity() >= n && storage_.capacity() - n < 64) {
        v = std::exchange(storage_, T{});
        held_ = false;
      }
    }
    mp::detail::decode(r, v);
  }

  // Bytes of prepared storage not yet taken.
  std::size_t held_bytes() const { return held_ ? storage_.capacity() * sizeof(E) : 0; }

 private:
  T storage_;
  bool held_ = false;
};

template <class T>
class PreparedStorage<T, void> {
 public:
  void prepare(std::size_t /*bytes*/) {}
  void decode(Reader& r, T& v) { mp::detail::decode(r, v); }
  std::size_t held_bytes() const { return 0; }
};

}  // namespace mp::detail
