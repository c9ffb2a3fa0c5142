// mp::Pool: a pool of worker processes (Python's multiprocessing.Pool).
//
//   int square(int x) { return x * x; }
//   mp::Pool pool;                                    // mp::cpu_count() workers
//   std::vector<int> ys = pool.map(square, xs);       // input order
//   for (int y : pool.imap_unordered(square, xs, 64)) // as they finish, 64 per task
//     ...;
//   mp::AsyncResult<int> r = pool.apply_async(square, 7);
//   r.get();                                          // 49
//
// Functions, captureless lambdas, lambdas capturing trivially copyable values and function
// objects with a cereal serialize() can be sent; arguments and results can be any type
// include/mp/serialize.hpp accepts. What cannot cross a process boundary fails to compile.
//
// Work goes on without the caller: a pool thread collects results, sends queued tasks,
// enforces timeouts, replaces crashed workers and runs callbacks while the program does
// something else. Every member may be called from any thread, and a result may be waited
// for in any thread.
#pragma once

#include <sys/types.h>

#include <array>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "mp/detail/deadline.hpp"
#include "mp/detail/pool_core.hpp"
#include "mp/detail/pool_jobs.hpp"
#include "mp/detail/progress_reporter.hpp"
#include "mp/detail/pull_range.hpp"
#include "mp/errors.hpp"
#include "mp/pool_options.hpp"
#include "mp/progress.hpp"

namespace mp {

// Python's callback and error_callback, the last argument of apply_async, map_async and
// starmap_async:
//   pool.apply_async(square, 7, mp::callbacks([](int r) { ... },
//                                              [](std::exception_ptr e) { ... }));
// callback gets the value (a const reference; nothing for void, the whole vector for the
// map forms), error_callback the exception the result would throw. One of them runs once
// the result is ready, on the thread that collected it: the pool's own thread, or a
// caller's inside a Pool call. Keep them short, as Python asks: results wait meanwhile.
// A callback that throws is reported on stderr and ignored (as concurrent.futures does);
// the result itself is unaffected.
struct NoCallback {
  template <class... A>
  void operator()(A&&...) const noexcept {}
};
template <class OnValue, class OnError = NoCallback>
struct Callbacks {
  OnValue callback;
  OnError error_callback;
};
template <class OnValue>
Callbacks<std::decay_t<OnValue>> callbacks(OnValue&& callback) {
  return {std::forward<OnValue>(callback), {}};
}
template <class OnValue, class OnError>
Callbacks<std::decay_t<OnValue>, std::decay_t<OnError>> callbacks(OnValue&& callback,
                                                                  OnError&& error_callback) {
  return {std::forward<OnValue>(callback), std::forward<OnError>(error_callback)};
}
template <class OnError>
Callbacks<NoCallback, std::decay_t<OnError>> error_callback(OnError&& error_callback) {
  return {{}, std::forward<OnError>(error_callback)};
}

namespace detail {
template <class T>
struct is_callbacks : std::false_type {};
template <class V, class E>
struct is_callbacks<Callbacks<V, E>> : std::true_type {};
template <class... A>
struct ends_with_callbacks : std::false_type {};
template <class... A>
requires(sizeof...(A) > 0) struct ends_with_callbacks<A...>
    : is_callbacks<std::remove_cvref_t<std::tuple_element_t<sizeof...(A) - 1, std::tuple<A...>>>> {
};

// Makes `job` run the callbacks once it finishes. Single: the value is the one result of
// apply_async; otherwise the whole vector.
template <bool Single, class JobT, class V, class E>
void attach_callbacks(JobT& job, Callbacks<V, E> cbs) {
  job.completion_ = [j = &job, cbs = std::move(cbs)]() mutable noexcept {
    try {
      if (j->error_) {
        cbs.error_callback(j->error_);
      } else if constexpr (requires { j->sink().values(); }) {
        if constexpr (Single) {
          cbs.callback(std::as_const(j->sink().values().front()));
        } else {
          cbs.callback(std::as_const(j->sink().values()));
        }
      } else {
        cbs.callback();
      }
    } catch (...) {
      report_callback_error(std::current_exception());
    }
  };
}

// Waits for `job` through the pool `core`; false if the deadline passed first.
template <class JobT>
bool wait_job(const std::weak_ptr<PoolCore>& core, JobT& job,
              PoolCore::Clock::time_point deadline) {
  if (job.done()) {
    return true;
  }
  auto pool = core.lock();
  if (!pool) {
    throw_pool_gone();
  }
  return pool->wait(make_condition([&job] { return job.done(); }), deadline);
}
}  // namespace detail

// The result of an asynchronous call (apply_async, map_async, starmap_async).
// T is the value type; std::vector<R> for the map forms. It may outlive its Pool: if
// the Pool is destroyed first, a result not yet ready throws mp::BrokenPool on get().
template <class T>
class AsyncResult {
  using ValueRef = typename std::conditional_t<std::is_void_v<T>, std::type_identity<void>,
                                               std::add_lvalue_reference<const T>>::type;

 public:
  // Blocks until the result is ready.
  void wait() { detail::wait_job(core_, job_->job(), detail::PoolCore::Clock::time_point::max()); }
  // Blocks at most `timeout`; returns ready().
  template <class Rep, class Period>
  bool wait(std::chrono::duration<Rep, Period> timeout) {
    return detail::wait_job(core_, job_->job(), detail::deadline_after(timeout));
  }
  bool ready() const { return job_->job().done(); }
  // Arguments whose results (or errors) are in, and all of them (1 for apply_async): a
  // program may draw its own progress from these while it waits.
  std::size_t items_done() const {
    return static_cast<std::size_t>(job_->job().items_done_.load(std::memory_order_relaxed));
  }
  std::size_t items_total() const { return static_cast<std::size_t>(job_->job().items_total_); }
  // Whether the call completed without an exception. Throws std::logic_error if not ready.
  bool successful() const {
    if (!ready()) {
      throw std::logic_error("mp: AsyncResult::successful() called before the result is ready");
    }
    return job_->job().error_ == nullptr;
  }
  // The value, waiting for it; rethrows the task's exception.
  decltype(auto) get() & {
    wait();
    return job_->value();
  }
  T get() && {
    wait();
    return job_->take();
  }

  // As get(), but throws mp::TimeoutError if the result is not ready within `timeout`.
  template <class Rep, class Period>
  decltype(auto) get(std::chrono::duration<Rep, Period> timeout) & {
    if (!wait(timeout)) {
      detail::throw_timeout("AsyncResult::get");
    }
    return job_->value();
  }

 private:
  friend class Pool;
  struct Holder {
    virtual ~Holder() = default;
    virtual detail::Job& job() = 0;
    virtual ValueRef value() = 0;
    virtual T take() = 0;
  };
  template <class JobT, bool Single>
  struct HolderOf final : Holder {
    explicit HolderOf(std::shared_ptr<JobT> j) : j_(std::move(j)) {}
    detail::Job& job() override { return *j_; }
    void check() {
      if (j_->error_) {
        std::rethrow_exception(j_->error_);
      }
    }
    ValueRef value() override {
      check();
      if constexpr (std::is_void_v<T>) {
        return;
      } else if constexpr (Single) {
        return j_->sink().values().front();
      } else {
        return j_->sink().values();
      }
    }
    T take() override {
      check();
      if constexpr (std::is_void_v<T>) {
        return;
      } else if constexpr (Single) {
        return std::move(j_->sink().values().front());
      } else {
        return std::move(j_->sink().values());
      }
    }
    std::shared_ptr<JobT> j_;
  };

  AsyncResult(std::unique_ptr<Holder> h, std::weak_ptr<detail::PoolCore> core)
      : job_(std::move(h)), core_(std::move(core)) {}

  std::unique_ptr<Holder> job_;
  std::weak_ptr<detail::PoolCore> core_;
};

// The results of imap / imap_unordered: an input range, consumed once.
template <class R, bool Ordered>
class ImapResult : public detail::PullRange<ImapResult<R, Ordered>, R> {
 public:
  ImapResult(ImapResult&&) noexcept = default;
  ImapResult& operator=(ImapResult&& other) noexcept {
    if (this != &other) {
      abandon();
      detail::PullRange<ImapResult, R>::operator=(std::move(other));
      job_ = std::move(other.job_);
      core_ = std::move(other.core_);
    }
    return *this;
  }
  // Leaving a loop early (break) releases the input not yet sent: the pool reads no more
  // of it, and tasks already sent finish without anyone waiting for them.
  ~ImapResult() { abandon(); }

  // The next result, waiting for it; std::nullopt at the end. Rethrows a task's exception
  // at its position; iteration may go on after it.
  std::optional<R> next() { return next_until(detail::PoolCore::Clock::time_point::max()); }
  // As next(), but throws mp::TimeoutError if nothing arrives within `timeout`.
  template <class Rep, class Period>
  std::optional<R> next(std::chrono::duration<Rep, Period> timeout) {
    return next_until(detail::deadline_after(timeout));
  }

 private:
  friend class Pool;
  using Sink = detail::StreamSink<R, Ordered>;
  struct Holder {
    virtual ~Holder() = default;
    virtual std::shared_ptr<detail::Job> job() = 0;
    virtual Sink& sink() = 0;
  };
  template <class JobT>
  struct HolderOf final : Holder {
    explicit HolderOf(std::shared_ptr<JobT> j) : j_(std::move(j)) {}
    std::shared_ptr<detail::Job> job() override { return j_; }
    Sink& sink() override { return j_->sink(); }
    std::shared_ptr<JobT> j_;
  };

  ImapResult(std::unique_ptr<Holder> h, std::weak_ptr<detail::PoolCore> core)
      : job_(std::move(h)), core_(std::move(core)) {}

  // The pool stops reading an input whose results nobody will take.
  void abandon() noexcept {
    if (job_ && !job_->job()->done()) {
      if (auto pool = core_.lock()) {
        try {
          pool->abandon(job_->job());
        } catch (...) {
        }
      }
    }
  }

  std::optional<R> next_until(detail::PoolCore::Clock::time_point deadline) {
    Sink& sink = job_->sink();
    const std::shared_ptr<detail::Job> job = job_->job();
    // The engine writes the sink under its lock; without a pool nobody writes it.
    auto pool = core_.lock();
    std::unique_lock<std::mutex> lock;
    if (pool) {
      lock = pool->lock();
    }
    // Results that arrived come first, each task error at its position; an error of the
    // whole call (the input threw, the pool broke) ends the iteration after them.
    auto ready = [&] { return sink.has_next() || job->done(); };
    if (!ready()) {
      if (!pool) {
        detail::throw_pool_gone();
      }
      lock.unlock();
      if (!pool->wait(detail::make_condition(ready), deadline)) {
        detail::throw_timeout("imap next()");
      }
      lock.lock();
    }
    if (sink.has_next()) {
      return sink.take_next();
    }
    if (job->error_) {
      std::rethrow_exception(job->error_);
    }
    return std::nullopt;
  }

  std::unique_ptr<Holder> job_;
  std::weak_ptr<detail::PoolCore> core_;
};

class Pool {
 public:
  // mp::cpu_count() workers.
  Pool() : Pool(PoolOptions{}) {}
  explicit Pool(int processes) : Pool(options_with(processes)) {}
  // Starts the workers now. Throws std::invalid_argument for a bad option and
  // std::system_error if a worker cannot be started.
  explicit Pool(PoolOptions options) : core_(detail::PoolCore::create(std::move(options))) {}
  Pool(Pool&&) noexcept = default;
  Pool& operator=(Pool&&) noexcept = default;
  // Terminates the workers unless join() completed (as leaving Python's `with Pool()`).
  // Never leaves a process behind.
  ~Pool() {
    if (core_) {
      core_->terminate();
    }
  }

  int processes() const { return core_->processes(); }
  // The current workers' pids, one per slot (a replaced worker has a new pid).
  std::vector<pid_t> pids() const { return core_->pids(); }

  // f applied to each item, results in input order. chunksize: items per task; by default
  // about four tasks per worker (Python's rule). Rethrows the first task exception.
  template <class F, std::ranges::input_range Range>
  auto map(F&& f, Range&& items) {
    return map_async(std::forward<F>(f), std::forward<Range>(items)).get();
  }
  template <class F, std::ranges::input_range Range>
  auto map(F&& f, Range&& items, long long chunksize) {
    return map_async(std::forward<F>(f), std::forward<Range>(items), chunksize).get();
  }
  // As map, with each item a tuple (or pair) of arguments: f(std::get<0>(item), ...).
  template <class F, std::ranges::input_range Range>
  auto starmap(F&& f, Range&& items) {
    return starmap_async(std::forward<F>(f), std::forward<Range>(items)).get();
  }
  template <class F, std::ranges::input_range Range>
  auto starmap(F&& f, Range&& items, long long chunksize) {
    return starmap_async(std::forward<F>(f), std::forward<Range>(items), chunksize).get();
  }
  // As map and starmap, showing their progress while they wait (include/mp/progress.hpp):
  //   pool.map(f, xs, mp::Progress{});        // a bar on stderr, or lines in a log
  template <class F, std::ranges::input_range Range>
  auto map(F&& f, Range&& items, const Progress& progress) {
    return with_progress(map_async(std::forward<F>(f), std::forward<Range>(items)), progress);
  }
  template <class F, std::ranges::input_range Range>
  auto map(F&& f, Range&& items, long long chunksize, const Progress& progress) {
    return with_progress(map_async(std::forward<F>(f), std::forward<Range>(items), chunksize),
                         progress);
  }
  template <class F, std::ranges::input_range Range>
  auto starmap(F&& f, Range&& items, const Progress& progress) {
    return with_progress(starmap_async(std::forward<F>(f), std::forward<Range>(items)), progress);
  }
  template <class F, std::ranges::input_range Range>
  auto starmap(F&& f, Range&& items, long long chunksize, const Progress& progress) {
    return with_progress(starmap_async(std::forward<F>(f), std::forward<Range>(items), chunksize),
                         progress);
  }

  // As map and starmap, without waiting: an AsyncResult<std::vector<R>>. The calls run to
  // the end while the caller does something else. A last argument mp::callbacks(...)
  // runs Python's callback / error_callback when the results are ready.
  template <class F, std::ranges::input_range Range, class... Cb>
  requires(detail::is_callbacks<std::remove_cvref_t<Cb>>::value&&...) auto map_async(F&& f,
                                                                                     Range&& items,
                                                                                     Cb&&... cbs) {
    return submit_vector<false>(std::forward<F>(f), std::forward<Range>(items), 0,
                                std::forward<Cb>(cbs)...);
  }
  template <class F, std::ranges::input_range Range, class... Cb>
  requires(detail::is_callbacks<std::remove_cvref_t<Cb>>::value&&...) auto map_async(
      F&& f, Range&& items, long long chunksize, Cb&&... cbs) {
    check_chunksize(chunksize);
    return submit_vector<false>(std::forward<F>(f), std::forward<Range>(items),
                                static_cast<std::size_t>(chunksize), std::forward<Cb>(cbs)...);
  }
  template <class F, std::ranges::input_range Range, class... Cb>
  requires(detail::is_callbacks<std::remove_cvref_t<Cb>>::value&&...) auto starmap_async(
      F&& f, Range&& items, Cb&&... cbs) {
    return submit_vector<true>(std::forward<F>(f), std::forward<Range>(items), 0,
                               std::forward<Cb>(cbs)...);
  }
  template <class F, std::ranges::input_range Range, class... Cb>
  requires(detail::is_callbacks<std::remove_cvref_t<Cb>>::value&&...) auto starmap_async(
      F&& f, Range&& items, long long chunksize, Cb&&... cbs) {
    check_chunksize(chunksize);
    return submit_vector<true>(std::forward<F>(f), std::forward<Range>(items),
                               static_cast<std::size_t>(chunksize), std::forward<Cb>(cbs)...);
  }

  // Lazy map: results in input order as an input range. The input is read as tasks are
  // sent, with a bounded number in flight, so it may be endless. chunksize defaults to 1
  // as in Python.
  template <class F, std::ranges::input_range Range>
  auto imap(F&& f, Range&& items, long long chunksize = 1) {
    return submit_stream<true>(std::forward<F>(f), std::forward<Range>(items), chunksize);
  }
  // As imap, results in completion order.
  template <class F, std::ranges::input_range Range>
  auto imap_unordered(F&& f, Range&& items, long long chunksize = 1) {
    return submit_stream<false>(std::forward<F>(f), std::forward<Range>(items), chunksize);
  }

  // f(args...) in a worker. The arguments are encoded straight from the caller's objects,
  // without a copy first (apply blocks until the result is back). They convert to f's
  // parameters as in a direct call (a string literal for a std::string parameter).
  template <class F, class... Args>
  auto apply(F&& f, const Args&... args) {
    using Fn = std::decay_t<F>;
    if constexpr (!(std::is_same_v<detail::stored_arg_t<Args>, std::decay_t<Args>> && ...)) {
      return apply_async(std::forward<F>(f), args...).get();
    } else {
      using Values = std::tuple<std::decay_t<Args>...>;
      using Refs = std::array<std::tuple<const Args&...>, 1>;
      using R = detail::starmap_result_t<Fn, Values>;
      using JobT = detail::ChunkedJob<Fn, Refs, true, detail::VectorSink<R>, Values>;
      auto job = std::make_shared<JobT>(Fn(std::forward<F>(f)), Refs{std::tie(args...)}, 1);
      core_->submit(job);
      using Holder = typename AsyncResult<R>::template HolderOf<JobT, true>;
      return AsyncResult<R>(std::make_unique<Holder>(std::move(job)), core_).get();
    }
  }
  // f(args...) in a worker, without waiting: an AsyncResult<R>. A last argument
  // mp::callbacks(...) runs Python's callback / error_callback when the result is ready.
  template <class F, class... Args>
  auto apply_async(F&& f, Args&&... args) {
    if constexpr (detail::ends_with_callbacks<Args...>::value) {
      auto refs = std::forward_as_tuple(std::forward<Args>(args)...);
      return [&]<std::size_t... I>(std::index_sequence<I...>) {
        return submit_apply(std::forward<F>(f), std::get<sizeof...(Args) - 1>(std::move(refs)),
                            std::get<I>(std::move(refs))...);
      }
      (std::make_index_sequence<sizeof...(Args) - 1>{});
    } else {
      return submit_apply(std::forward<F>(f), Callbacks<NoCallback>{}, std::forward<Args>(args)...);
    }
  }

  // No more tasks may be submitted; workers exit once the queued ones are done (join).
  void close() { core_->close(); }
  // Waits for the queued tasks to finish and the workers to exit. Requires close() or
  // terminate() first (as Python), else throws std::logic_error.
  void join() { core_->join(detail::PoolCore::Clock::time_point::max()); }
  // As join(), waiting at most `timeout`; returns true if the workers have exited, false
  // if the timeout passed first (the pool stays closed; join or terminate again later).
  template <class Rep, class Period>
  bool join(std::chrono::duration<Rep, Period> timeout) {
    return core_->join(detail::deadline_after(timeout));
  }
  // Stops the workers now; pending results fail with mp::BrokenPool.
  void terminate() { core_->terminate(); }

  // The per-argument time limit of the calls submitted from now on (PoolOptions::
  // task_timeout sets the first one); zero for none. Calls already submitted keep theirs:
  //   pool.set_task_timeout(2s);  auto quick = pool.map(f, xs);    // each f(x) <= 2 s
  //   pool.set_task_timeout(0s);  auto slow = pool.map(g, ys);     // no limit
  // Throws std::invalid_argument for a negative timeout.
  template <class Rep, class Period>
  void set_task_timeout(std::chrono::duration<Rep, Period> timeout) {
    core_->set_task_timeout(std::chrono::ceil<std::chrono::nanoseconds>(timeout));
  }
  std::chrono::nanoseconds task_timeout() const { return core_->task_timeout(); }

 private:
  static PoolOptions options_with(int processes) {
    PoolOptions o;
    o.processes = processes;
    return o;
  }

  template <class T>
  static T with_progress(AsyncResult<T>&& result, const Progress& progress) {
    detail::wait_with_progress(
        result, [&result] { return result.items_done(); }, progress, result.items_total());
    return std::move(result).get();
  }

  static void check_chunksize(long long chunksize) {
    if (chunksize < 1) {
      detail::throw_invalid_chunksize(chunksize);
    }
  }

  friend class ProcessPoolExecutor;
  friend class Parallel;  // its pre_dispatch bounds an imap's window

  // The job of f(args...) in a worker, not yet submitted. Arguments are kept as the
  // target takes them where that makes them sendable (a string literal as std::string),
  // as a Process keeps its arguments.
  template <class F, class... Args>
  static auto make_apply_job(F&& f, Args&&... args) {
    using Fn = std::decay_t<F>;
    constexpr bool convert = std::is_invocable_v<Fn&, detail::stored_arg_t<Args>&...>;
    using Tuple = std::conditional_t<convert, std::tuple<detail::stored_arg_t<Args>...>,
                                     std::tuple<std::decay_t<Args>...>>;
    using R = detail::starmap_result_t<Fn, Tuple>;
    using Items = std::vector<Tuple>;
    using JobT = detail::ChunkedJob<Fn, Items, true, detail::VectorSink<R>>;
    Items items;
    items.emplace_back(std::forward<Args>(args)...);
    return std::make_shared<JobT>(Fn(std::forward<F>(f)), std::move(items), 1);
  }

  template <class F, class Cbs, class... Args>
  auto submit_apply(F&& f, Cbs&& cbs, Args&&... args) {
    auto job = make_apply_job(std::forward<F>(f), std::forward<Args>(args)...);
    using JobT = typename decltype(job)::element_type;
    using R = typename JobT::Kernel::Result;
    using C = std::remove_cvref_t<Cbs>;
    if constexpr (!std::is_same_v<C, Callbacks<NoCallback>>) {
      detail::attach_callbacks<true>(*job, C(std::forward<Cbs>(cbs)));
    }
    core_->submit(job);
    using Holder = typename AsyncResult<R>::template HolderOf<JobT, true>;
    return AsyncResult<R>(std::make_unique<Holder>(std::move(job)), core_);
  }

  template <bool Spread, class F, class Range, class... Cb>
  auto submit_vector(F&& f, Range&& items, std::size_t chunksize, Cb&&... cbs) {
    static_assert(
        sizeof...(Cb) <= 1 && (detail::is_callbacks<std::remove_cvref_t<Cb>>::value && ...),
        "mp: the argument after the input (and chunksize) of map_async and "
        "starmap_async must be mp::callbacks(...)");
    using Fn = std::decay_t<F>;
    using Arg = detail::item_t<Range>;
    using R = typename detail::ChunkKernel<Fn, Arg, Spread>::Result;
    if constexpr (!std::ranges::sized_range<std::remove_reference_t<Range>>) {
      // Python's map reads the whole input first too; it needs the length for chunksize.
      std::vector<Arg> all;
      for (auto&& x : items) {
        all.push_back(static_cast<Arg>(x));
      }
      return submit_vector<Spread>(std::forward<F>(f), std::move(all), chunksize,
                                   std::forward<Cb>(cbs)...);
    } else {
      using JobT = detail::ChunkedJob<Fn, Range, Spread, detail::VectorSink<R>>;
      if (chunksize == 0) {
        chunksize = detail::default_chunksize(static_cast<std::size_t>(std::ranges::size(items)),
                                              core_->processes());
      }
      auto job =
          std::make_shared<JobT>(Fn(std::forward<F>(f)), std::forward<Range>(items), chunksize);
      (detail::attach_callbacks<false>(*job, std::remove_cvref_t<Cb>(std::forward<Cb>(cbs))), ...);
      core_->submit(job);
      using Result = AsyncResult<std::conditional_t<std::is_void_v<R>, void, std::vector<R>>>;
      using Holder = typename Result::template HolderOf<JobT, false>;
      return Result(std::make_unique<Holder>(std::move(job)), core_);
    }
  }

  template <bool Ordered, class F, class Range>
  // `items_ahead`: arguments sent at most ahead of the results taken (0: no such bound;
  // chunks sent or ready are bounded anyway, 16 per worker and 16).
  auto submit_stream(F&& f, Range&& items, long long chunksize, std::size_t items_ahead = 0) {
    check_chunksize(chunksize);
    using Fn = std::decay_t<F>;
    using Arg = detail::item_t<Range>;
    using R = detail::map_result_t<Fn, Arg>;
    static_assert(!std::is_void_v<R>,
                  "mp: imap of a function returning void yields nothing; use map");
    using Sink = detail::StreamSink<R, Ordered>;
    using JobT = detail::ChunkedJob<Fn, Range, false, Sink>;
    auto job = std::make_shared<JobT>(Fn(std::forward<F>(f)), std::forward<Range>(items),
                                      static_cast<std::size_t>(chunksize));
    job->sink().set_window(static_cast<std::size_t>(core_->processes()) * 16 + 16);
    job->sink().set_item_window(items_ahead);
    core_->submit(job);
    using Result = ImapResult<R, Ordered>;
    using Holder = typename Result::template HolderOf<JobT>;
    return Result(std::make_unique<Holder>(std::move(job)), core_);
  }

  std::shared_ptr<detail::PoolCore> core_;
};

}  // namespace mp
