// A callable bound to its arguments, runnable here or, when both can be sent, encoded for
// a process that does not share this one's memory: a Process target and a Pool
// initializer are both one of these. Encoded as [trampoline id][callable][arguments],
// the same way a task names its code (include/mp/detail/callable.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "mp/detail/callable.hpp"
#include "mp/detail/codec.hpp"

namespace mp::detail {

struct ItemMonitor;

template <class F, class... Args>
inline constexpr bool is_sendable_bound_call_v = is_sendable_callable_v<F> &&
                                                 (is_transferable_v<Args> && ...);

// Decodes and runs what BoundCall::encode wrote (after the id).
template <class F, class Args>
struct BoundCallKernel {
  static void run(Reader& in, Writer& /*out*/, ItemMonitor& /*monitor*/) {
    F f = decode_callable<F>(in);
    Args args{};
    decode(in, args);
    std::apply(f, std::move(args));
  }
};

// Runs an encoded BoundCall; throws mp::SerializationError for an unknown id.
void run_encoded_call(std::span<const std::byte> encoded);

class BoundCall {
 public:
  BoundCall() = default;

  template <class F, class... Args>
  static BoundCall bind(F f, Args... args) {
    BoundCall c;
    c.state_ = std::make_shared<Holder<F, Args...>>(std::move(f), std::move(args)...);
    return c;
  }
  // A call known only by its encoded form, as the receiving process gets it.
  static BoundCall from_encoded(std::vector<std::byte> bytes) {
    BoundCall c;
    if (!bytes.empty()) {
      c.state_ = std::make_shared<Encoded>(std::move(bytes));
    }
    return c;
  }

  explicit operator bool() const noexcept { return state_ != nullptr; }
  // Runs it, once per process: the arguments are moved into the call.
  void operator()() const {
    if (state_) {
      state_->run();
    }
  }
  // True if it can be sent to a process that does not share this one's memory.
  bool sendable() const noexcept { return state_ && state_->sendable(); }
  // Appends the encoded call to `w`; requires sendable().
  void encode(Writer& w) const { state_->encode(w); }
  std::vector<std::byte> encoded() const {
    if (!sendable()) {
      return {};
    }
    VectorWriter w;
    encode(w);
    return {w.data(), w.data() + w.size()};
  }

 private:
  struct State {
    virtual ~State() = default;
    virtual void run() = 0;
    virtual bool sendable() const = 0;
    virtual void encode(Writer& w) const = 0;
  };

  template <class F, class... Args>
  struct Holder final : State {
    explicit Holder(F fn, Args... a) : f(std::move(fn)), args(std::move(a)...) {}
    void run() override { std::apply(f, std::move(args)); }
    bool sendable() const override { return is_sendable_bound_call_v<F, Args...>; }
    void encode(Writer& w) const override {
      if constexpr (is_sendable_bound_call_v<F, Args...>) {
        const std::uint64_t id = TrampolineId<BoundCallKernel<F, std::tuple<Args...>>>::value;
        w.write(&id, sizeof id);
        encode_callable(w, f);
        detail::encode(w, args);
      } else {
        throw std::logic_error("mp: internal error: encoding a call that cannot be sent");
      }
    }
    F f;
    std::tuple<Args...> args;
  };

  struct Encoded final : State {
    explicit Encoded(std::vector<std::byte> b) : bytes(std::move(b)) {}
    void run() override { run_encoded_call(bytes); }
    bool sendable() const override { return true; }
    void encode(Writer& w) const override { w.write(bytes.data(), bytes.size()); }
    std::vector<std::byte> bytes;
  };

  // Shared: options are copied into every pool and worker slot, and a Process is movable.
  std::shared_ptr<State> state_;
};

}  // namespace mp::detail
