// What a worker runs for one task message: decode the callable, then apply it to each
// argument of the chunk, writing each result as it is produced. These templates are
// instantiated by the Pool calls on the parent side and registered (callable.hpp) so a
// worker can find them by id.
//
// Task payload, after the TaskHeader the worker loop reads (runtime/worker_region.hpp):
//                 [trampoline id u64][callable state][count u32][argument]...; a count
//                 of kArgumentsToEnd: arguments to the end of the message (an input
//                 that does not know its size). A large payload may still be arriving
//                 while the first arguments are decoded.
// Result payload: per argument, [u8 0][result] or, when the call threw, [u8 1][error];
// every argument of the chunk runs whatever the others did, so a chunk is only a unit of
// transport and the pool may merge chunks without changing what the caller sees.
//
// An argument or result whose codec runs user code (a cereal save/load) goes framed,
// [u64 length][bytes]: a load that throws or kills its process fails that one item, and
// the reader goes on at the next. An argument whose save threw in the caller is sent as
// the length kUnsentItem alone; its error stays with the caller.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "mp/detail/callable.hpp"
#include "mp/detail/codec.hpp"

namespace mp::detail {

// Replaces the results written so far (from `offset`) by an error for the whole message
// (it could not be decoded or run at all). Defined once in the library.
void encode_task_error(Writer& out, std::size_t offset, std::uint32_t index,
                       std::exception_ptr error);
// Appends one argument's error: its exception's type name and message.
void encode_item_error(Writer& out, std::exception_ptr error);
// Reads what encode_item_error wrote, as the exception to raise in the caller for the task
// at `index` run by worker `pid`.
std::exception_ptr decode_item_error(Reader& in, int pid, std::uint64_t index);

// The crash of the worker that ran the item at `index`, as the exception to raise.
std::exception_ptr make_crash_error(int pid, int wait_status, int cause, std::uint64_t index);
// An argument stopped for running past the pool's task_timeout.
std::exception_ptr make_timeout_error(int pid, std::uint64_t index);

inline constexpr std::uint32_t kArgumentsToEnd = UINT32_MAX;

inline constexpr std::uint8_t kItemOk = 0;
inline constexpr std::uint8_t kItemError = 1;    // then: type name, message
inline constexpr std::uint8_t kItemCrashed = 2;  // then: i32 pid, wait status, cause
inline constexpr std::uint8_t kItemUnsent = 3;   // the caller could not encode the argument

// Whether values of T are framed by their length (see the top of this file). The fast
// codec runs no user code: what it reads was written by mp.
template <class T>
inline constexpr bool framed_v = !fast_codec<T>::value;
inline constexpr std::uint64_t kUnsentItem = UINT64_MAX;

// Writes v framed by its length. Encoding into `scratch` first keeps a save() that throws
// from leaving half an item in a message that may already be on its way.
template <class T>
void encode_framed(Writer& out, VectorWriter& scratch, const T& v) {
  scratch.truncate(0);
  encode(scratch, v);
  const std::uint64_t n = scratch.size();
  out.write(&n, sizeof n);
  out.write(scratch.data(), scratch.size());
}

// Writes v framed by its length into a Writer that is not read while it is written.
template <class T>
void encode_framed_in_place(Writer& out, const T& v) {
  const std::size_t at = out.size();
  std::uint64_t n = 0;
  out.write(&n, sizeof n);
  encode(out, v);
  n = out.size() - at - sizeof n;
  out.patch(at, &n, sizeof n);
}

// The bytes of the next framed item (its length read), or nullopt for an unsent one.
// Reading the item from its own Reader keeps a failing load from reading into the next.
inline std::optional<Reader> next_framed(Reader& in) {
  std::uint64_t n = 0;
  in.read(&n, sizeof n);
  if (n == kUnsentItem) {
    return std::nullopt;
  }
  if (n > SIZE_MAX) {
    throw_truncated_message(SIZE_MAX, 0);
  }
  const std::byte* p = in.take(static_cast<std::size_t>(n));
  return Reader(p, static_cast<std::size_t>(n));
}
// The cause of an argument whose worker the pool killed for running past task_timeout;
// other causes are mp::CrashCause values.
inline constexpr std::int32_t kCauseKilledByPool = -1;

// Lets a worker name the argument it is running, so that a crash or a timeout is pinned
// on that one argument: the message is run again by a replacement worker, which skips the
// arguments that ended an earlier worker and reports them with that worker's pid, wait
// status and cause (an mp::CrashCause, or kCauseKilledByPool).
struct ItemMonitor {
  static constexpr std::uint32_t kNone = UINT32_MAX;      // not yet in an argument
  static constexpr std::uint32_t kDone = UINT32_MAX - 1;  // past the last argument
  std::atomic<std::uint32_t>* running = nullptr;          // where the running argument's index goes
  const std::uint32_t* skip = nullptr;  // arguments that ended a worker, and per argument:
  const std::int32_t* skip_pid = nullptr;
  const std::int32_t* skip_status = nullptr;
  const std::int32_t* skip_cause = nullptr;
  std::uint32_t skip_count = 0;

  // The position in `skip` of argument i, or -1.
  int skipped(std::uint32_t i) const {
    for (std::uint32_t k = 0; k < skip_count; ++k) {
      if (skip[k] == i) return static_cast<int>(k);
    }
    return -1;
  }
};

// Result type of calling F on an Arg (void stays void).
template <class F, class Arg>
using map_result_t = std::decay_t<std::invoke_result_t<F&, Arg&&>>;
template <class F, class Tuple>
using starmap_result_t =
    std::decay_t<decltype(std::apply(std::declval<F&>(), std::declval<Tuple&&>()))>;

template <class Arg>
Arg& reusable_arg(Arg& fresh) {
  if constexpr (fast_codec<Arg>::value && !is_bitwise_v<Arg>) {
    thread_local Arg kept{};
    return kept;
  } else {
    return fresh;
  }
}

// Spread: false calls f(arg), true calls std::apply(f, arg).
template <class F, class Arg, bool Spread>
struct ChunkKernel {
  // decltype(auto): a function returning a reference (to data the worker keeps) is
  // encoded from that reference, without a copy.
  static decltype(auto) call(F& f, Arg&& arg) {
    if constexpr (Spread) {
      return std::apply(f, std::move(arg));
    } else {
      return std::invoke(f, std::move(arg));
    }
  }
  using Result = std::remove_cvref_t<decltype(call(std::declval<F&>(), std::declval<Arg&&>()))>;

  static void run(Reader& message, Writer& out, ItemMonitor& monitor) {
    Reader in = message;  // a copy the loop can keep in registers (see Reader)
    F f = decode_callable<F>(in);
    std::uint32_t n = 0;
    in.read(&n, sizeof n);
    const bool to_end = n == kArgumentsToEnd;
    for (std::uint32_t i = 0; to_end ? !in.at_end() : i < n; ++i) {
      monitor.running->store(i, std::memory_order_relaxed);
      // Arguments made of plain containers keep their storage from task to task (decode
      // overwrites them completely): refilling memory already touched is many times
      // faster than faulting in fresh pages for every large argument.
      Arg fresh{};
      Arg& arg = reusable_arg<Arg>(fresh);
      // A framed argument that crashed an earlier worker is not decoded again: its load
      // may be what crashed it.
      std::optional<Reader> item;
      if constexpr (framed_v<Arg>) {
        item = next_framed(in);
      } else {
        decode(in, arg);
      }
      if (const int k = monitor.skipped(i); k >= 0) [[unlikely]] {
        out.write(&kItemCrashed, 1);
        out.write(&monitor.skip_pid[k], sizeof(std::int32_t));
        out.write(&monitor.skip_status[k], sizeof(std::int32_t));
        out.write(&monitor.skip_cause[k], sizeof(std::int32_t));
        continue;
      }
      if constexpr (framed_v<Arg>) {
        if (!item) {
          out.write(&kItemUnsent, 1);
          continue;
        }
        try {
          decode(*item, arg);
        } catch (...) {
          out.write(&kItemError, 1);
          encode_item_error(out, std::current_exception());
          continue;
        }
      }
      // Nothing runs before the whole message is there: a sender that gives it up
      // midway (its input threw) must find none of its arguments run.
      if (in.streaming()) [[unlikely]] {
        in.wait_complete();
      }
      const std::size_t item_start = out.size();
      out.write(&kItemOk, 1);
      try {
        if constexpr (std::is_void_v<Result>) {
          call(f, std::move(arg));
        } else if constexpr (framed_v<Result>) {
          encode_framed_in_place(out, call(f, std::move(arg)));
        } else {
          encode(out, call(f, std::move(arg)));
        }
      } catch (...) {
        out.truncate(item_start);
        out.write(&kItemError, 1);
        encode_item_error(out, std::current_exception());
      }
    }
    message = in;
  }

  static std::uint64_t id() { return TrampolineId<ChunkKernel>::value; }
};

}  // namespace mp::detail
