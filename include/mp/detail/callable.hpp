// How a callable crosses a process boundary.
//
// A task names the code to run by a registry id, never by a raw address read from a
// channel. Each kernel type (say, "apply F to every T of a chunk") registers a
// trampoline under a hash of its type name while the program starts, so a forked
// worker and a re-executed copy of the program assign the same ids. The callable's own
// state travels after the id:
//   function pointer                 -> module + offset, checked on arrival to point into
//                                       executable code of that module
//   trivially copyable function object (captureless lambda, lambda capturing numbers)
//                                    -> its bytes
//   function object with cereal serialize() -> a cereal archive
// Anything else (std::function, a lambda capturing a std::string) fails to compile with a
// message that says what to do instead.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <type_traits>

#include "mp/detail/codec.hpp"

namespace mp::detail {

struct ItemMonitor;
using Trampoline = void (*)(Reader& in, Writer& out, ItemMonitor& monitor);

// Registers `fn` under an id derived from `name`; returns the id. Called during static
// initialisation. Two names hashing alike get distinct ids in registration order, which
// is the same in every copy of one program.
std::uint64_t register_trampoline(std::string_view name, Trampoline fn);
// The trampoline registered under `id`, or nullptr.
Trampoline find_trampoline(std::uint64_t id) noexcept;

// A code address as module + offset, stable across fork and exec of the same program.
struct CodeAddress {
  std::uint64_t module = 0;
  std::uint64_t offset = 0;
};
CodeAddress code_address_of(std::uintptr_t fn);
// Throws mp::SerializationError unless the address is inside executable code of a loaded module.
std::uintptr_t resolve_code_address(const CodeAddress& a);

template <class T>
constexpr std::string_view type_name() {
  return __PRETTY_FUNCTION__;
}

template <class Kernel>
struct TrampolineId {
  static inline const std::uint64_t value = register_trampoline(type_name<Kernel>(), &Kernel::run);
};

template <class F>
inline constexpr bool is_function_pointer_v =
    std::is_pointer_v<F>&& std::is_function_v<std::remove_pointer_t<F>>;

template <class F>
inline constexpr bool is_sendable_callable_v =
    is_function_pointer_v<F> || (std::is_class_v<F> && std::is_trivially_copyable_v<F>) ||
    (std::is_class_v<F> && std::is_default_constructible_v<F> && cereal_codec_v<F>);

template <class F>
constexpr void check_sendable_callable() {
  static_assert(!is_specialization<F, std::function>::value,
                "mp: a std::function cannot be sent to a worker process (its target is hidden "
                "behind a pointer); pass the function, lambda or function object itself");
  static_assert(is_sendable_callable_v<F>,
                "mp: this callable cannot be sent to a worker process. Use a free function, a "
                "lambda that captures only trivially copyable values (numbers, PODs; pass "
                "strings and containers as arguments instead), or a function object with a "
                "cereal serialize() member");
}

template <class F>
void encode_callable(Writer& w, const F& f) {
  check_sendable_callable<F>();
  if constexpr (is_function_pointer_v<F>) {
    const CodeAddress a = code_address_of(reinterpret_cast<std::uintptr_t>(f));
    w.write(&a, sizeof a);
  } else if constexpr (std::is_trivially_copyable_v<F>) {
    w.write(&f, sizeof(F));
  } else {
    encode(w, f);
  }
}

// The callable F sent by encode_callable<F>.
template <class F>
F decode_callable(Reader& r) {
  if constexpr (is_function_pointer_v<F>) {
    CodeAddress a;
    r.read(&a, sizeof a);
    return reinterpret_cast<F>(resolve_code_address(a));
  } else if constexpr (std::is_trivially_copyable_v<F>) {
    std::array<std::byte, sizeof(F)> bytes;
    r.read(bytes.data(), sizeof(F));
    return std::bit_cast<F>(bytes);
  } else {
    F f{};
    decode(r, f);
    return f;
  }
}

// A function pointer sent as a value (inside an argument, say) rather than as the task's
// callable: module + offset, as encode_callable sends one, checked on arrival.
template <class F>
struct SentFunction {
  F f = nullptr;
  template <class Archive>
  void save(Archive& ar) const {
    const CodeAddress a = code_address_of(reinterpret_cast<std::uintptr_t>(f));
    ar(a.module, a.offset);
  }
  template <class Archive>
  void load(Archive& ar) {
    CodeAddress a;
    ar(a.module, a.offset);
    f = reinterpret_cast<F>(resolve_code_address(a));
  }
};
// Never as raw bytes: the address means nothing in a process started by exec.
template <class F>
struct fast_codec<SentFunction<F>> : std::false_type {};

// How a function travels inside a value that is sent (a delayed call, a cached function):
// a function pointer as module + offset, anything else as itself.
template <class F>
using sent_function_t = std::conditional_t<is_function_pointer_v<F>, SentFunction<F>, F>;
template <class F>
const F& function_of(const F& f) {
  return f;
}
template <class F>
F function_of(const SentFunction<F>& sent) {
  return sent.f;
}

// How an argument given to Process, apply_async or submit is kept until it is sent: by
// value, and a string literal or other char pointer as a std::string, so that it can be
// sent to a process that does not share the caller's memory. The target converts it to
// its parameter type when it is called, as a direct call would.
template <class A>
using stored_arg_t = std::conditional_t<std::is_same_v<std::decay_t<A>, const char*> ||
                                            std::is_same_v<std::decay_t<A>, char*>,
                                        std::string, std::decay_t<A>>;

}  // namespace mp::detail
