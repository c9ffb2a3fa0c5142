// mp::ThreadPool: the whole mp::Pool API on threads (Python's
// multiprocessing.pool.ThreadPool). Nothing is serialized: any callable, any argument and
// result types. Switching a program between processes and threads is one word:
//
//   mp::ThreadPool pool(4);                           // mp::Pool pool(4);
//   auto ys = pool.map(f, xs);                        // the same calls
//   for (bool b : pool.imap_unordered(is_prime, ns, 64)) ...
//   mp::Future<int> r = pool.apply_async(f, 7);       // get(), ready(), successful()
//
// A task that throws fails its own item: map rethrows the first failure in input order,
// imap rethrows it at its position and goes on. Threads cannot be killed: terminate()
// cancels the tasks not started and waits for the running ones. Every member may be
// called from any thread.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "mp/detail/pool_jobs.hpp"
#include "mp/detail/progress_reporter.hpp"
#include "mp/detail/pull_range.hpp"
#include "mp/detail/thread_engine.hpp"
#include "mp/future.hpp"
#include "mp/pool.hpp"
#include "mp/process.hpp"

namespace mp {

namespace detail {

// One item's outcome in a chunk run by a thread.
template <class R>
struct ThreadItem {
  std::optional<std::conditional_t<std::is_void_v<R>, char, R>> value;
  std::exception_ptr error;
};
template <class R>
using ThreadChunk = std::vector<ThreadItem<R>>;

// Runs f over one chunk, each item succeeding or failing on its own.
template <class R, bool Spread, class Fn, class Item>
ThreadChunk<R> run_thread_chunk(Fn& fn, std::vector<Item>& items) {
  ThreadChunk<R> out(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    try {
      if constexpr (std::is_void_v<R>) {
        if constexpr (Spread) {
          std::apply(fn, items[i]);
        } else {
          fn(items[i]);
        }
        out[i].value.emplace('\0');
      } else if constexpr (Spread) {
        out[i].value.emplace(std::apply(fn, items[i]));
      } else {
        out[i].value.emplace(fn(items[i]));
      }
    } catch (...) {
      out[i].error = std::current_exception();
    }
  }
  return out;
}

// What f returns for one item: f(item), or std::apply(f, item) for starmap.
template <bool Spread, class Fn, class Item>
struct thread_result {
  using type = std::decay_t<std::invoke_result_t<Fn&, Item&>>;
};
template <class Fn, class Item>
struct thread_result<true, Fn, Item> {
  using type = std::decay_t<decltype(std::apply(std::declval<Fn&>(), std::declval<Item&>()))>;
};

// A map's chunks, collected: the last chunk to finish completes the call's future with
// every value in input order, or with the first failure in input order.
template <class R, class Result>
struct ThreadMapJoin {
  std::mutex m;
  std::size_t left = 0;
  std::vector<ThreadChunk<R>> parts;
  std::shared_ptr<FutureState<Result>> state = std::make_shared<FutureState<Result>>();
  std::atomic<std::size_t> items_done{0};  // for a progress display
  std::size_t items_total = 0;

  void part_done(std::size_t index, ThreadChunk<R> part) {
    items_done.fetch_add(part.size(), std::memory_order_relaxed);
    {
      std::lock_guard l(m);
      parts[index] = std::move(part);
      if (--left > 0) {
        return;
      }
    }
    state->start();
    // The failure is handed to the future, and this thread keeps no other reference to
    // it: whoever drops the last one destroys it, after the future's lock ordered the
    // hand-over (the count inside std::exception_ptr is invisible to ThreadSanitizer).
    for (auto& p : parts) {
      for (auto& item : p) {
        if (item.error) {
          std::exception_ptr error = std::move(item.error);
          parts.clear();
          state->finish(std::move(error));
          return;
        }
      }
    }
    if constexpr (!std::is_void_v<R>) {
      std::vector<R> out;
      for (auto& p : parts) {
        for (auto& item : p) {
          out.push_back(std::move(*item.value));
        }
      }
      state->set_value(std::move(out));
    }
    state->finish(nullptr);
  }
};

// The results of ThreadPool::imap / imap_unordered: an input range, consumed once. The
// input is read as results are taken, with a bounded number of chunks in flight.
template <class R, bool Ordered, class Fn, class Range, bool Spread = false>
class ThreadImap : public PullRange<ThreadImap<R, Ordered, Fn, Range, Spread>, R> {
  using Item = item_t<Range>;
  using Chunk = ThreadChunk<R>;

 public:
  ThreadImap(std::shared_ptr<ThreadEngine> engine, Fn fn, Range&& range, std::size_t chunksize,
             std::size_t window)
      : engine_(std::move(engine)),
        fn_(std::make_shared<Fn>(std::move(fn))),
        input_(std::make_unique<Input>(std::forward<Range>(range))),
        chunksize_(chunksize),
        window_(window),
        ready_(std::make_shared<Ready>()) {}
  ThreadImap(ThreadImap&& other) noexcept
      : PullRange<ThreadImap, R>(std::move(other)),
        engine_(std::move(other.engine_)),
        fn_(std::move(other.fn_)),
        input_(std::move(other.input_)),
        chunksize_(other.chunksize_),
        window_(other.window_),
        in_flight_(std::exchange(other.in_flight_, {})),
        ready_(std::move(other.ready_)),
        current_(std::move(other.current_)),
        pos_(other.pos_) {}
  ThreadImap& operator=(ThreadImap&&) = delete;

  ~ThreadImap() {
    for (auto& f : in_flight_) {
      f.cancel();  // not started: never run; started: finishes unwatched
    }
  }

  std::optional<R> next() { return next_until(FutureCore::Clock::time_point::max()); }
  template <class Rep, class Period>
  std::optional<R> next(std::chrono::duration<Rep, Period> timeout) {
    return next_until(deadline_after(timeout));
  }

 private:
  // Completed chunks, in completion order (imap_unordered).
  struct Ready {
    std::mutex m;
    std::deque<Future<Chunk>> done;
  };

  void refill() {
    auto& it = input_->it;
    const auto& end = input_->end;
    while (in_flight_.size() < window_ && it != end) {
      std::vector<Item> chunk;
      for (; chunk.size() < chunksize_ && it != end; ++it) {
        chunk.push_back(static_cast<Item>(*it));
      }
      auto fn = fn_;
      Future<Chunk> f = submit_thread_task(
          *engine_, [fn](std::vector<Item> c) { return run_thread_chunk<R, Spread>(*fn, c); },
          std::move(chunk));
      if constexpr (!Ordered) {
        f.add_done_callback([ready = ready_](const Future<Chunk>& g) {
          std::lock_guard l(ready->m);
          ready->done.push_back(g);
        });
      }
      in_flight_.push_back(std::move(f));
    }
  }

  // The next chunk to hand out, waiting for it; false when nothing is left.
  bool next_chunk(FutureCore::Clock::time_point deadline) {
    refill();
    if (in_flight_.empty()) {
      return false;
    }
    Future<Chunk> f;
    if constexpr (Ordered) {
      f = in_flight_.front();
    } else {
      const auto take = [&] {
        std::lock_guard l(ready_->m);
        if (ready_->done.empty()) {
          return false;
        }
        f = std::move(ready_->done.front());
        ready_->done.pop_front();
        return true;
      };
      // Any chunk in flight will complete; wait on the oldest and look again.
      while (!take()) {
        if (!in_flight_.front().core().wait_until(deadline) ||
            (FutureCore::Clock::now() >= deadline && !take())) {
          FutureCore::throw_timeout("imap next()");
        }
      }
    }
    if (!f.core().wait_until(deadline)) {
      FutureCore::throw_timeout("imap next()");
    }
    in_flight_.erase(std::find(in_flight_.begin(), in_flight_.end(), f));
    current_ = f.result();
    pos_ = 0;
    return true;
  }

  std::optional<R> next_until(FutureCore::Clock::time_point deadline) {
    while (pos_ >= current_.size()) {
      if (!next_chunk(deadline)) {
        return std::nullopt;
      }
    }
    ThreadItem<R>& slot = current_[pos_++];
    if (slot.error) {
      std::rethrow_exception(slot.error);
    }
    return std::move(*slot.value);
  }

  std::shared_ptr<ThreadEngine> engine_;
  std::shared_ptr<Fn> fn_;
  // The input and the position in it, on the heap: the iterators stay valid when the
  // result is moved.
  struct Input {
    explicit Input(Range&& r)
        : holder(std::forward<Range>(r)),
          it(std::ranges::begin(holder.range)),
          end(std::ranges::end(holder.range)) {}
    RangeHolder<Range> holder;
    std::ranges::iterator_t<typename RangeHolder<Range>::Stored> it;
    std::ranges::sentinel_t<typename RangeHolder<Range>::Stored> end;
  };
  std::unique_ptr<Input> input_;
  std::size_t chunksize_;
  std::size_t window_;
  std::deque<Future<Chunk>> in_flight_;
  std::shared_ptr<Ready> ready_;
  Chunk current_;
  std::size_t pos_ = 0;
};

}  // namespace detail

class ThreadPool {
 public:
  // mp::cpu_count() threads.
  ThreadPool() : ThreadPool(0) {}
  // `processes` threads (0: mp::cpu_count(); negative: std::invalid_argument), Python's
  // name kept. `initializer` runs once in each thread before its first task.
  explicit ThreadPool(int processes, std::function<void()> initializer = {})
      : engine_(std::make_shared<detail::ThreadEngine>(checked(processes), std::move(initializer),
                                                       std::chrono::microseconds(50))) {}
  ThreadPool(ThreadPool&&) noexcept = default;
  ThreadPool& operator=(ThreadPool&&) noexcept = default;
  // As Pool's: terminate() unless join() completed.
  ~ThreadPool() {
    if (engine_) {
      terminate();
    }
  }

  int processes() const { return engine_->size(); }

  template <class F, std::ranges::input_range Range>
  auto map(F&& f, Range&& items) {
    return map_async(std::forward<F>(f), std::forward<Range>(items)).get();
  }
  template <class F, std::ranges::input_range Range>
  auto map(F&& f, Range&& items, long long chunksize) {
    return map_async(std::forward<F>(f), std::forward<Range>(items), chunksize).get();
  }
  template <class F, std::ranges::input_range Range>
  auto starmap(F&& f, Range&& items) {
    return starmap_async(std::forward<F>(f), std::forward<Range>(items)).get();
  }
  template <class F, std::ranges::input_range Range>
  auto starmap(F&& f, Range&& items, long long chunksize) {
    return starmap_async(std::forward<F>(f), std::forward<Range>(items), chunksize).get();
  }
  // As map and starmap, showing their progress while they wait (include/mp/progress.hpp).
  template <class F, std::ranges::input_range Range>
  auto map(F&& f, Range&& items, const Progress& progress) {
    return with_progress(submit_map_join<false>(std::forward<F>(f), std::forward<Range>(items), 0),
                         progress);
  }
  template <class F, std::ranges::input_range Range>
  auto map(F&& f, Range&& items, long long chunksize, const Progress& progress) {
    check_chunksize(chunksize);
    return with_progress(
        submit_map_join<false>(std::forward<F>(f), std::forward<Range>(items), chunksize),
        progress);
  }
  template <class F, std::ranges::input_range Range>
  auto starmap(F&& f, Range&& items, const Progress& progress) {
    return with_progress(submit_map_join<true>(std::forward<F>(f), std::forward<Range>(items), 0),
                         progress);
  }
  template <class F, std::ranges::input_range Range>
  auto starmap(F&& f, Range&& items, long long chunksize, const Progress& progress) {
    check_chunksize(chunksize);
    return with_progress(
        submit_map_join<true>(std::forward<F>(f), std::forward<Range>(items), chunksize), progress);
  }

  template <class F, std::ranges::input_range Range, class... Cb>
  requires(detail::is_callbacks<std::remove_cvref_t<Cb>>::value&&...) auto map_async(F&& f,
                                                                                     Range&& items,
                                                                                     Cb&&... cbs) {
    return submit_map<false>(std::forward<F>(f), std::forward<Range>(items), 0, cbs...);
  }
  template <class F, std::ranges::input_range Range, class... Cb>
  requires(detail::is_callbacks<std::remove_cvref_t<Cb>>::value&&...) auto map_async(
      F&& f, Range&& items, long long chunksize, Cb&&... cbs) {
    check_chunksize(chunksize);
    return submit_map<false>(std::forward<F>(f), std::forward<Range>(items), chunksize, cbs...);
  }
  template <class F, std::ranges::input_range Range, class... Cb>
  requires(detail::is_callbacks<std::remove_cvref_t<Cb>>::value&&...) auto starmap_async(
      F&& f, Range&& items, Cb&&... cbs) {
    return submit_map<true>(std::forward<F>(f), std::forward<Range>(items), 0, cbs...);
  }
  template <class F, std::ranges::input_range Range, class... Cb>
  requires(detail::is_callbacks<std::remove_cvref_t<Cb>>::value&&...) auto starmap_async(
      F&& f, Range&& items, long long chunksize, Cb&&... cbs) {
    check_chunksize(chunksize);
    return submit_map<true>(std::forward<F>(f), std::forward<Range>(items), chunksize, cbs...);
  }

  template <class F, std::ranges::input_range Range>
  auto imap(F&& f, Range&& items, long long chunksize = 1) {
    return make_imap<true>(std::forward<F>(f), std::forward<Range>(items), chunksize);
  }
  template <class F, std::ranges::input_range Range>
  auto imap_unordered(F&& f, Range&& items, long long chunksize = 1) {
    return make_imap<false>(std::forward<F>(f), std::forward<Range>(items), chunksize);
  }

  template <class F, class... Args>
  auto apply(F&& f, Args&&... args) {
    return apply_async(std::forward<F>(f), std::forward<Args>(args)...).get();
  }
  // f(args...) on a pool thread: an mp::Future<R> (get(), ready(), successful(), as
  // Pool's AsyncResult). A last argument mp::callbacks(...) runs callback /
  // error_callback on the thread that ran the task.
  template <class F, class... Args>
  auto apply_async(F&& f, Args&&... args) {
    if constexpr (detail::ends_with_callbacks<Args...>::value) {
      auto refs = std::forward_as_tuple(std::forward<Args>(args)...);
      return [&]<std::size_t... I>(std::index_sequence<I...>) {
        auto fut = submit_call(std::forward<F>(f), std::get<I>(std::move(refs))...);
        attach(fut, std::get<sizeof...(Args) - 1>(std::move(refs)));
        return fut;
      }
      (std::make_index_sequence<sizeof...(Args) - 1>{});
    } else {
      return submit_call(std::forward<F>(f), std::forward<Args>(args)...);
    }
  }

  // As Pool's: no more tasks; join() waits for the queued ones and the threads.
  void close() { engine_->shutdown(false, false); }
  void join() {
    if (!engine_->stopped()) {
      throw std::logic_error(
          "mp: ThreadPool is still running: call close() or terminate() before join()");
    }
    engine_->shutdown(true, false);
  }
  // Cancels the tasks not started (their results fail with mp::CancelledError) and waits
  // for the running ones: threads cannot be stopped from outside.
  void terminate() { engine_->shutdown(true, true); }

 private:
  static int checked(int processes) {
    if (processes < 0) {
      throw std::invalid_argument("mp: ThreadPool processes must be at least 1, not " +
                                  std::to_string(processes));
    }
    return processes == 0 ? mp::cpu_count() : processes;
  }
  static void check_chunksize(long long chunksize) {
    if (chunksize < 1) {
      detail::throw_invalid_chunksize(chunksize);
    }
  }

  template <class F, class... Args>
  auto submit_call(F&& f, Args&&... args) {
    return detail::submit_thread_task(*engine_, std::forward<F>(f), std::forward<Args>(args)...);
  }

  template <class T, class V, class E>
  static void attach(const Future<T>& fut, Callbacks<V, E> cbs) {
    fut.add_done_callback([cbs = std::move(cbs)](const Future<T>& g) mutable {
      try {
        if (std::exception_ptr e = g.core().exception_or_null(); e || g.cancelled()) {
          cbs.error_callback(e ? e : g.core().exception());
        } else if constexpr (std::is_void_v<T>) {
          cbs.callback();
        } else {
          cbs.callback(g.result());
        }
      } catch (...) {
        detail::report_callback_error(std::current_exception());
      }
    });
  }

  template <bool Spread, class F, class Range, class... Cb>
  auto submit_map(F&& f, Range&& items, long long chunksize, Cb&... cbs) {
    return submit_map_join<Spread>(std::forward<F>(f), std::forward<Range>(items), chunksize,
                                   cbs...)
        .first;
  }

  template <class Result, class Join>
  static Result with_progress(std::pair<Future<Result>, std::shared_ptr<Join>> call,
                              const Progress& progress) {
    Future<Result>& result = call.first;
    const Join& join = *call.second;
    detail::wait_with_progress(
        result, [&join] { return join.items_done.load(std::memory_order_relaxed); }, progress,
        join.items_total);
    if constexpr (std::is_void_v<Result>) {
      result.result();
    } else {
      return result.result();
    }
  }

  // The call's future, and what collects its chunks (which counts the items done).
  template <bool Spread, class F, class Range, class... Cb>
  auto submit_map_join(F&& f, Range&& items, long long chunksize, Cb&... cbs) {
    using Fn = std::decay_t<F>;
    using Item = detail::item_t<Range>;
    using R = typename detail::thread_result<Spread, Fn, Item>::type;
    using Result = std::conditional_t<std::is_void_v<R>, void, std::vector<R>>;
    std::vector<Item> all;
    for (auto&& x : items) {
      all.push_back(static_cast<Item>(x));
    }
    if (chunksize == 0) {
      chunksize = static_cast<long long>(detail::default_chunksize(all.size(), processes()));
    }
    // The chunks run as tasks; the last one to finish completes the call's future.
    auto join = std::make_shared<detail::ThreadMapJoin<R, Result>>();
    const std::size_t per = static_cast<std::size_t>(chunksize);
    const std::size_t n_chunks = (all.size() + per - 1) / per;
    join->left = n_chunks;
    join->parts.resize(n_chunks);
    join->items_total = all.size();
    Future<Result> result(join->state);
    (attach(result, cbs), ...);
    if (n_chunks == 0) {
      join->left = 1;
      join->parts.resize(1);
      join->part_done(0, {});
      return std::make_pair(result, join);
    }
    auto fn = std::make_shared<Fn>(std::forward<F>(f));
    for (std::size_t c = 0; c < n_chunks; ++c) {
      const std::size_t first = c * per;
      const std::size_t last = std::min(all.size(), first + per);
      std::vector<Item> chunk(std::make_move_iterator(all.begin() + static_cast<long>(first)),
                              std::make_move_iterator(all.begin() + static_cast<long>(last)));
      submit_call(
          [fn, join, c](std::vector<Item> items) {
            join->part_done(c, detail::run_thread_chunk<R, Spread>(*fn, items));
          },
          std::move(chunk));
    }
    return std::make_pair(result, join);
  }

  friend class Parallel;  // its pre_dispatch bounds an imap's window

  // `window`: chunks in flight at most (0: the default, 16 per thread and 16).
  template <bool Ordered, class F, class Range>
  auto make_imap(F&& f, Range&& items, long long chunksize, std::size_t window = 0) {
    check_chunksize(chunksize);
    using Fn = std::decay_t<F>;
    using Item = detail::item_t<Range>;
    using R = std::decay_t<std::invoke_result_t<Fn&, Item&>>;
    static_assert(!std::is_void_v<R>,
                  "mp: imap of a function returning void yields nothing; use map");
    using Result = detail::ThreadImap<R, Ordered, Fn, Range>;
    return Result(engine_, Fn(std::forward<F>(f)), std::forward<Range>(items),
                  static_cast<std::size_t>(chunksize),
                  window != 0 ? window : static_cast<std::size_t>(processes()) * 16 + 16);
  }

  std::shared_ptr<detail::ThreadEngine> engine_;
};

}  // namespace mp
