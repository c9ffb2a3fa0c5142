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
// std::string, a std::function) still works with fork; with the other start methods the
// Pool constructor rejects it with std::invalid_argument. A captured pointer or reference
// is trivially copyable but travels as an address, meaningful only in a forked worker.
#pragma once

#include <cstddef>
#include <type_traits>
#include <utility>
#include <vector>

#include "mp/detail/bound_call.hpp"

namespace mp {

class Initializer {
 public:
  Initializer() = default;
  // Any callable taking no arguments (sendable or not; see above).
  template <class F>
  requires(!std::is_same_v<std::remove_cvref_t<F>, Initializer> &&
           std::is_invocable_v<std::decay_t<F>&>)
      Initializer(F&& f)  // NOLINT(google-explicit-constructor): assigned like a std::function
      : call_(detail::BoundCall::bind(std::decay_t<F>(std::forward<F>(f)))) {}

  explicit operator bool() const noexcept { return static_cast<bool>(call_); }
  // Runs it in this process (a worker runs it once, before its first task).
  void operator()() const { call_(); }
  // True if it can be sent to a worker that does not share the caller's memory.
  bool sendable() const noexcept { return call_.sendable(); }
  // Its encoded form (empty unless sendable()), and back.
  std::vector<std::byte> encoded() const { return call_.encoded(); }
  static Initializer from_encoded(std::vector<std::byte> bytes) {
    Initializer i;
    i.call_ = detail::BoundCall::from_encoded(std::move(bytes));
    return i;
  }

 private:
  template <class F, class... Args>
  friend Initializer bind_initializer(F f, Args... initargs);

  detail::BoundCall call_;
};

// Python's initializer=f, initargs=(args...) as one Initializer.
template <class F, class... Args>
Initializer bind_initializer(F f, Args... initargs) {
  Initializer init;
  init.call_ = detail::BoundCall::bind(std::move(f), std::move(initargs)...);
  return init;
}

}  // namespace mp
