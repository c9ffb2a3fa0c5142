// Executors with futures (Python's concurrent.futures): one interface over worker
// processes and over threads.
//
//   mp::ProcessPoolExecutor ex(4);                    // or mp::ThreadPoolExecutor ex(4);
//   mp::Future<long> f = ex.submit(task, 1, 10'000'000L);
//   std::vector<mp::Future<long>> fs = ...;
//   for (const auto& g : mp::as_completed(fs)) use(g.result());
//   for (long y : ex.map(task2, xs)) ...;            // in order, lazily
//   ex.shutdown();                                   // also done by the destructor
//
// ProcessPoolExecutor runs tasks in an mp::Pool: what can be sent, crash and timeout
// handling are the Pool's (a crashed or timed-out task fails its own future with
// mp::WorkerCrashed / mp::TimeoutError, its worker is replaced, and the other futures go
// on: the executor never breaks as Python's BrokenProcessPool does). ThreadPoolExecutor
// runs any callable on threads, with any argument and result types.
//
// Every member may be called from any thread.
#pragma once

#include <algorithm>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "mp/detail/progress_reporter.hpp"
#include "mp/detail/pull_range.hpp"
#include "mp/detail/thread_engine.hpp"
#include "mp/future.hpp"
#include "mp/pool.hpp"
#include "mp/process.hpp"
#include "mp/progress.hpp"

namespace mp {

// Executor::map's options (Python's timeout and chunksize keywords).
struct MapOptions {
  // Iterating past this long after the call throws mp::TimeoutError; none by default.
  std::optional<std::chrono::nanoseconds> timeout{};
  // Items per task. For processes a larger chunk saves messages; for threads it saves
  // queue operations.
  long long chunksize = 1;
  // Shows the results handed out as they are taken (include/mp/progress.hpp):
  //   for (auto y : ex.map(f, xs, {.progress = mp::Progress{}})) ...
  std::optional<Progress> progress{};
};

// The results of Executor::map in input order, as an input range. Each result waits for
// its task and rethrows its exception.
template <class R>
class MapResults : public detail::PullRange<MapResults<R>, R> {
 public:
  MapResults(std::deque<Future<std::vector<R>>> chunks,
             detail::FutureCore::Clock::time_point deadline,
             const std::optional<Progress>& progress = std::nullopt, std::size_t total = 0)
      : chunks_(std::move(chunks)), deadline_(deadline) {
    if (progress) {
      reporter_ = std::make_unique<detail::ProgressReporter>(*progress, total);
    }
  }

  std::optional<R> next() {
    while (pos_ >= current_.size()) {
      if (chunks_.empty()) {
        if (reporter_) {
          reporter_->finish(taken_);
          reporter_.reset();
        }
        return std::nullopt;
      }
      Future<std::vector<R>> f = std::move(chunks_.front());
      chunks_.pop_front();
      if (!wait_for(f)) {
        detail::FutureCore::throw_timeout("Executor::map");
      }
      const std::vector<R>& values = f.result();
      current_.assign(values.begin(), values.end());
      pos_ = 0;
    }
    if (reporter_) {
      reporter_->update(++taken_);
    }
    return std::move(current_[pos_++]);
  }

 private:
  // Waits for a chunk until the deadline, redrawing the progress meanwhile.
  bool wait_for(const Future<std::vector<R>>& f) {
    if (!reporter_) {
      return f.core().wait_until(deadline_);
    }
    for (;;) {
      const auto slice = detail::FutureCore::Clock::now() + reporter_->poll_interval();
      if (f.core().wait_until(std::min(deadline_, slice))) {
        return true;
      }
      if (detail::FutureCore::Clock::now() >= deadline_) {
        return false;
      }
      reporter_->update(taken_);
    }
  }

  std::unique_ptr<detail::ProgressReporter> reporter_;
  std::size_t taken_ = 0;
  std::deque<Future<std::vector<R>>> chunks_;
  detail::FutureCore::Clock::time_point deadline_;
  // Not std::vector<bool>: its elements cannot be handed out by reference.
  std::conditional_t<std::is_same_v<R, bool>, std::deque<bool>, std::vector<R>> current_;
  std::size_t pos_ = 0;
};

namespace detail {

inline FutureCore::Clock::time_point map_deadline(const MapOptions& o) {
  return o.timeout ? deadline_after(*o.timeout) : FutureCore::Clock::time_point::max();
}

inline void check_map_options(const MapOptions& o) {
  if (o.chunksize < 1) {
    throw_invalid_chunksize(o.chunksize);
  }
}

// Python's map(fn, *iterables): the items of several ranges side by side, as tuples,
// up to the end of the shortest.
template <class... Rs>
auto zip_ranges(Rs&... rs) {
  using Tuple = std::tuple<item_t<Rs&>...>;
  std::vector<Tuple> out;
  auto its = std::make_tuple(std::ranges::begin(rs)...);
  const auto ends = std::make_tuple(std::ranges::end(rs)...);
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    while (((std::get<I>(its) != std::get<I>(ends)) && ...)) {
      out.emplace_back(static_cast<item_t<Rs&>>(*std::get<I>(its))...);
      (++std::get<I>(its), ...);
    }
  }
  (std::index_sequence_for<Rs...>{});
  return out;
}

template <class T>
struct is_map_options : std::is_same<std::remove_cvref_t<T>, MapOptions> {};

// map's arguments after the function: two or more ranges, then MapOptions or nothing.
// Returns the zipped items and the options.
template <class... Args>
auto zip_map_arguments(Args&... args) {
  constexpr std::size_t n = sizeof...(Args);
  auto all = std::forward_as_tuple(args...);
  if constexpr (is_map_options<std::tuple_element_t<n - 1, std::tuple<Args...>>>::value) {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return std::make_pair(zip_ranges(std::get<I>(all)...), MapOptions(std::get<n - 1>(all)));
    }
    (std::make_index_sequence<n - 1>{});
  } else {
    return std::make_pair(zip_ranges(args...), MapOptions{});
  }
}

// Splits a range into vectors of `chunksize` items.
template <class Range>
auto chunks_of(Range&& items, long long chunksize) {
  using Item = item_t<Range>;
  std::vector<std::vector<Item>> out;
  std::vector<Item> chunk;
  for (auto&& x : items) {
    chunk.push_back(static_cast<Item>(x));
    if (chunk.size() == static_cast<std::size_t>(chunksize)) {
      out.push_back(std::move(chunk));
      chunk.clear();
    }
  }
  if (!chunk.empty()) {
    out.push_back(std::move(chunk));
  }
  return out;
}

// A future filled by a Pool job: its waiting thread drives the pool.
template <class T>
class ProcessFutureState final : public FutureState<T> {
 public:
  std::weak_ptr<PoolCore> pool;
  std::weak_ptr<Job> job;

 protected:
  void drive_until(FutureCore::Clock::time_point deadline) override {
    auto p = pool.lock();
    auto j = job.lock();
    if (p && j && !j->done()) {
      p->wait(make_condition([&j] { return j->done(); }), deadline);
    }
  }
};

// The future of a Pool job: it starts when the job's first chunk is sent (unless it was
// cancelled first, which withdraws the job) and finishes with take(job) or the job's
// error. The job owns the state until it completes; the state only watches the job.
template <class T, class JobT, class Take>
std::shared_ptr<ProcessFutureState<T>> future_of(const std::shared_ptr<JobT>& job,
                                                 std::weak_ptr<PoolCore> pool, Take take) {
  auto state = std::make_shared<ProcessFutureState<T>>();
  state->pool = std::move(pool);
  state->job = job;
  JobT* j = job.get();
  job->start_ = [s = state.get()] { return s->start(); };
  job->completion_ = [state, j, take]() noexcept {
    if (j->error_) {
      state->finish(j->error_);
      return;
    }
    try {
      if constexpr (!std::is_void_v<T>) {
        state->set_value(take(*j));
      }
      state->finish(nullptr);
    } catch (...) {
      state->finish(std::current_exception());
    }
  };
  return state;
}

// Remembers the futures not yet started, for shutdown(cancel_futures); forgets finished
// ones as it goes, so its size stays near the number outstanding.
class PendingFutures {
 public:
  void add(const std::shared_ptr<FutureCore>& f) {
    std::lock_guard l(m_);
    if (list_.size() >= next_prune_) {
      std::erase_if(list_, [](const auto& w) {
        auto p = w.lock();
        return !p || p->done();
      });
      next_prune_ = std::max<std::size_t>(1024, list_.size() * 2);
    }
    list_.push_back(f);
  }
  void cancel_all() {
    std::vector<std::weak_ptr<FutureCore>> all;
    {
      std::lock_guard l(m_);
      all.swap(list_);
    }
    for (auto& w : all) {
      if (auto p = w.lock()) {
        p->cancel();
      }
    }
  }

 private:
  std::mutex m_;
  std::vector<std::weak_ptr<FutureCore>> list_;
  std::size_t next_prune_ = 1024;
};

}  // namespace detail

class ProcessPoolExecutor {
 public:
  // mp::cpu_count() worker processes.
  ProcessPoolExecutor() : ProcessPoolExecutor(PoolOptions{}) {}
  // Python's ProcessPoolExecutor(max_workers, initializer=, max_tasks_per_child=,
  // mp_context=). Throws std::invalid_argument if max_workers < 1 or
  // max_tasks_per_child < 0.
  explicit ProcessPoolExecutor(int max_workers, Initializer initializer = {},
                               int max_tasks_per_child = 0,
                               StartMethod start_method = StartMethod::fork)
      : pool_(options(max_workers, std::move(initializer), max_tasks_per_child, start_method)) {}
  // Every Pool option (task_timeout, crash_retries, limits...).
  explicit ProcessPoolExecutor(PoolOptions options) : pool_(std::move(options)) {}
  ProcessPoolExecutor(const ProcessPoolExecutor&) = delete;
  ProcessPoolExecutor& operator=(const ProcessPoolExecutor&) = delete;
  // shutdown(wait = true): every submitted task runs to its end first.
  ~ProcessPoolExecutor() {
    try {
      shutdown(true);
    } catch (...) {
      // ~Pool stops and reaps the workers whatever happened.
    }
  }

  int max_workers() const { return pool_.processes(); }

  // f(args...) in a worker process: a Future<R>. Throws std::logic_error after shutdown.
  template <class F, class... Args>
  auto submit(F&& f, Args&&... args) {
    check_open();
    auto job = Pool::make_apply_job(std::forward<F>(f), std::forward<Args>(args)...);
    using JobT = typename decltype(job)::element_type;
    using R = typename JobT::Kernel::Result;
    auto state = detail::future_of<R>(job, pool_.core_, [](JobT& j) -> decltype(auto) {
      if constexpr (!std::is_void_v<R>) {
        return std::move(j.sink().values().front());
      }
    });
    pending_.add(state);
    pool_.core_->submit(job);
    return Future<R>(std::move(state));
  }

  // f over the items in input order, as they are needed (Python's Executor.map): the
  // tasks are all submitted now, `chunksize` items each.
  template <class F, std::ranges::input_range Range>
  auto map(F&& f, Range&& items, MapOptions o = {}) {
    return map_chunks<false>(std::forward<F>(f), std::forward<Range>(items), o);
  }

  // f(a, b, ...) over several ranges side by side, up to the shortest (Python's
  // map(fn, *iterables)); a last argument mp::MapOptions{...} as above (spelled out: a
  // bare brace list cannot follow a variable number of ranges).
  template <class F, std::ranges::input_range A, class B, class... Rest>
  requires std::ranges::input_range<B>
  auto map(F&& f, A&& a, B&& b, Rest&&... rest) {
    auto [items, o] = detail::zip_map_arguments(a, b, rest...);
    return map_chunks<true>(std::forward<F>(f), std::move(items), o);
  }

  // No more submissions. cancel_futures cancels the tasks not started yet; with `wait`,
  // returns once the rest have finished and the workers have exited.
  void shutdown(bool wait = true, bool cancel_futures = false) {
    {
      std::lock_guard l(m_);
      shut_ = true;
    }
    if (cancel_futures) {
      pending_.cancel_all();
    }
    if (wait) {
      std::call_once(closed_, [this] { pool_.close(); });
      pool_.join();
    }
  }

  // The pool underneath (its pids, its task timeout).
  Pool& pool() noexcept { return pool_; }

 private:
  static PoolOptions options(int max_workers, Initializer initializer, int max_tasks_per_child,
                             StartMethod start_method) {
    if (max_workers < 1) {
      throw std::invalid_argument("mp: max_workers must be at least 1, not " +
                                  std::to_string(max_workers));
    }
    if (max_tasks_per_child < 0) {
      throw std::invalid_argument("mp: max_tasks_per_child must be 0 (no limit) or positive, not " +
                                  std::to_string(max_tasks_per_child));
    }
    PoolOptions o;
    o.processes = max_workers;
    o.initializer = std::move(initializer);
    o.maxtasksperchild = max_tasks_per_child;
    o.start_method = start_method;
    return o;
  }

  void check_open() {
    std::lock_guard l(m_);
    if (shut_) {
      throw std::logic_error("mp: cannot submit to a ProcessPoolExecutor after shutdown()");
    }
  }

  // Every chunk of `items` submitted now (Spread: each item is a tuple of arguments).
  template <bool Spread, class F, class Range>
  auto map_chunks(F&& f, Range&& items, const MapOptions& o) {
    detail::check_map_options(o);
    check_open();
    using Fn = std::decay_t<F>;
    using R = typename detail::ChunkKernel<Fn, detail::item_t<Range>, Spread>::Result;
    const auto deadline = detail::map_deadline(o);
    std::deque<Future<std::vector<R>>> chunks;
    Fn fn(std::forward<F>(f));
    std::size_t total = 0;
    for (auto& chunk : detail::chunks_of(std::forward<Range>(items), o.chunksize)) {
      total += chunk.size();
      chunks.push_back(submit_chunk<R, Spread>(fn, std::move(chunk)));
    }
    return MapResults<R>(std::move(chunks), deadline, o.progress, total);
  }

  template <class R, bool Spread, class Fn, class Item>
  Future<std::vector<R>> submit_chunk(const Fn& fn, std::vector<Item> chunk) {
    const std::size_t n = chunk.size();
    using JobT = detail::ChunkedJob<Fn, std::vector<Item>, Spread, detail::VectorSink<R>>;
    auto job = std::make_shared<JobT>(fn, std::move(chunk), n);
    auto state = detail::future_of<std::vector<R>>(
        job, pool_.core_, [](JobT& j) { return std::move(j.sink().values()); });
    pending_.add(state);
    pool_.core_->submit(job);
    return Future<std::vector<R>>(std::move(state));
  }

  Pool pool_;
  std::mutex m_;
  bool shut_ = false;
  std::once_flag closed_;
  detail::PendingFutures pending_;
};

class ThreadPoolExecutor {
 public:
  // Python's default: min(32, mp::cpu_count() + 4) threads.
  ThreadPoolExecutor() : ThreadPoolExecutor(std::min(32, mp::cpu_count() + 4)) {}
  // Throws std::invalid_argument if max_workers < 1. `initializer` runs once in each
  // thread before its first task; if it throws, every pending and later task fails with
  // mp::BrokenPool.
  explicit ThreadPoolExecutor(int max_workers, std::function<void()> initializer = {})
      : engine_(max_workers, std::move(initializer), std::chrono::microseconds(50)) {}
  ThreadPoolExecutor(const ThreadPoolExecutor&) = delete;
  ThreadPoolExecutor& operator=(const ThreadPoolExecutor&) = delete;
  ~ThreadPoolExecutor() { engine_.shutdown(true, false); }

  int max_workers() const { return engine_.size(); }

  // f(args...) on a pool thread: a Future<R>. Any callable, any types: nothing is
  // serialized. Throws std::logic_error after shutdown.
  template <class F, class... Args>
  auto submit(F&& f, Args&&... args) {
    return detail::submit_thread_task(engine_, std::forward<F>(f), std::forward<Args>(args)...);
  }

  // As ProcessPoolExecutor::map, on threads.
  template <class F, std::ranges::input_range Range>
  auto map(F&& f, Range&& items, MapOptions o = {}) {
    detail::check_map_options(o);
    using Fn = std::decay_t<F>;
    using Item = detail::item_t<Range>;
    using R = std::decay_t<std::invoke_result_t<Fn&, Item&>>;
    const auto deadline = detail::map_deadline(o);
    std::deque<Future<std::vector<R>>> chunks;
    Fn fn(std::forward<F>(f));
    std::size_t total = 0;
    for (auto& chunk : detail::chunks_of(std::forward<Range>(items), o.chunksize)) {
      total += chunk.size();
      chunks.push_back(submit(
          [fn](std::vector<Item> c) mutable {
            std::vector<R> out;
            out.reserve(c.size());
            for (auto& x : c) {
              out.push_back(fn(x));
            }
            return out;
          },
          std::move(chunk)));
    }
    return MapResults<R>(std::move(chunks), deadline, o.progress, total);
  }

  // As ProcessPoolExecutor's map over several ranges, on threads.
  template <class F, std::ranges::input_range A, class B, class... Rest>
  requires std::ranges::input_range<B>
  auto map(F&& f, A&& a, B&& b, Rest&&... rest) {
    auto [items, o] = detail::zip_map_arguments(a, b, rest...);
    return map([fn = std::decay_t<F>(std::forward<F>(f))](
                   auto& args) mutable { return std::apply(fn, args); },
               std::move(items), o);
  }

  void shutdown(bool wait = true, bool cancel_futures = false) {
    engine_.shutdown(wait, cancel_futures);
  }

 private:
  detail::ThreadEngine engine_;
};

}  // namespace mp
