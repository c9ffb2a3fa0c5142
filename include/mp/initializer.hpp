// mp::Initializer: what a pool runs once in every worker before its first task (Python's
// initializer + initargs).
//
//   void open_db(std::string path, int flags);
//   opts.initializer = mp::bind_initializer(open_db, "/tmp/db", 0);   // any start method
//   opts.initializer = [] { setenv("LANG", "C", 1); };                // any start method
//   opts.initializer = [&config] { use(config); };                    // fork only
//
// A worker forked from the caller runs the initializer it inherits. A worker started by
// the fork server or by spawn (mp::StartMethod) does not share the caller's memory, so
// the initializer travels to it the way a task does: a free function, a lambda that
// captures only trivially copyable values, or a function object with a cereal
// serialize(), with arguments any type mp can send. Anything else (a lambda capturing a
// reference, a std::function) still works with fork; with the other start methods the
// Pool constructor rejects it with std::invalid_argument.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "mp/detail/callable.hpp"
#include "mp/detail/codec.hpp"

namespace mp {

class Initializer;

namespace detail {

// Runs an initializer sent as [trampoline id][callable][arguments].
template <class F, class Args>
struct InitializerKernel {
  static void run(Reader& in, Writer& /*out*/, ItemMonitor& /*monitor*/) {
    F f = decode_callable<F>(in);
    Args args{};
    decode(in, args);
    std::apply(f, std::move(args));
  }
};

template <class F, class... Args>
inline constexpr bool is_sendable_initializer_v =
    is_sendable_callable_v<F> && (is_transferable_v<Args> && ...);

// Runs the initializer encoded by Initializer (in a worker that did not inherit it).
void run_encoded_initializer(std::span<const std::byte> encoded);

}  // namespace detail

class Initializer {
 public:
  Initializer() = default;
  // Any callable taking no arguments. It is also encoded for workers that do not share
  // the caller's memory when it can be sent (see above).
  template <class F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, Initializer> &&
             std::is_invocable_v<std::decay_t<F>&>)
  Initializer(F&& f)  // NOLINT(google-explicit-constructor): assigned like a std::function
  {
    using Fn = std::decay_t<F>;
    if constexpr (detail::is_sendable_initializer_v<Fn>) {
      encode<Fn>(f);
    }
    local_ = std::function<void()>(std::forward<F>(f));
  }

  explicit operator bool() const noexcept { return static_cast<bool>(local_) || encoded_; }
  // Runs it in this process (the fork start method, or a worker that decoded it).
  void operator()() const {
    if (local_) {
      local_();
    } else if (encoded_) {
      detail::run_encoded_initializer(*encoded_);
    }
  }
  // True if it can be sent to a worker that does not share the caller's memory.
  bool sendable() const noexcept { return encoded_ != nullptr; }
  // Its encoded form (empty unless sendable()).
  std::span<const std::byte> encoded() const noexcept {
    return encoded_ ? std::span<const std::byte>(*encoded_) : std::span<const std::byte>();
  }
  // An initializer known only by its encoded form, as a worker receives it.
  static Initializer from_encoded(std::vector<std::byte> bytes) {
    Initializer i;
    if (!bytes.empty()) {
      i.encoded_ = std::make_shared<const std::vector<std::byte>>(std::move(bytes));
    }
    return i;
  }

 private:
  template <class F, class... Args>
  friend Initializer bind_initializer(F f, Args... initargs);

  template <class F, class... Args>
  void encode(const F& f, const Args&... args) {
    using Kernel = detail::InitializerKernel<F, std::tuple<Args...>>;
    detail::VectorWriter w;
    const std::uint64_t id = detail::TrampolineId<Kernel>::value;
    w.write(&id, sizeof id);
    detail::encode_callable(w, f);
    detail::encode(w, std::tuple<const Args&...>(args...));
    encoded_ = std::make_shared<const std::vector<std::byte>>(w.data(), w.data() + w.size());
  }

  std::function<void()> local_;
  // Shared: options are copied into every pool and every worker slot.
  std::shared_ptr<const std::vector<std::byte>> encoded_;
};

// Python's initializer=f, initargs=(args...) as one Initializer.
template <class F, class... Args>
Initializer bind_initializer(F f, Args... initargs) {
  Initializer init;
  if constexpr (detail::is_sendable_initializer_v<F, Args...>) {
    init.encode(f, initargs...);
  }
  init.local_ = [f = std::move(f), args = std::make_tuple(std::move(initargs)...)]() mutable {
    std::apply(f, args);
  };
  return init;
}

}  // namespace mp
