// mp::Parallel and mp::delayed: joblib's one-line front end.
//
// Python:  Parallel(n_jobs=2)(delayed(sqrt)(i) for i in xs)
// C++:     mp::Parallel(2)(mp::delayed(root).over(xs));
//
// Any input range of delayed calls will do (a vector filled in a loop, or a
// std::views::transform pipeline with g++; clang 14 cannot compile libstdc++ 12's views).
//
//   mp::Parallel parallel({.n_jobs = -1, .backend = mp::Backend::threads});
//   std::vector<double> ys = parallel(calls);          // in input order
//   for (double y : parallel.generator(calls)) ...;     // in order, as they come
//   for (double y : parallel.generator_unordered(calls)) ...;
//   auto outcomes = parallel.outcomes(calls);           // a value or an error per call
//
// The workers are started with the Parallel object and kept for every call on it
// (joblib's `with Parallel(...) as parallel:`). Tiny calls are batched by the pool's
// automatic batching (about 200 us of work per message, from measured run times), or by
// `batch_size` items when given. The first call that throws is rethrown, with its index
// (mp::RemoteError nested in a standard exception, as Pool does); calls not yet started
// then never run. outcomes() keeps going instead.
#pragma once

#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "mp/detail/callable.hpp"
#include "mp/detail/progress_reporter.hpp"
#include "mp/detail/pull_range.hpp"
#include "mp/pool.hpp"
#include "mp/process.hpp"
#include "mp/progress.hpp"
#include "mp/thread_pool.hpp"

namespace mp {

// Where Parallel runs the calls: worker processes (joblib's loky), threads ("threading"),
// or one after another in the caller ("sequential", for debugging).
enum class Backend { processes, threads, sequential };

struct ParallelOptions {
  // joblib's n_jobs: the number of workers; -1 all CPUs, -2 all but one, and so on
  // (at least one). 0 is an error.
  int n_jobs = 1;
  Backend backend = Backend::processes;
  // Calls per message; 0 is joblib's "auto" (the pool merges tiny calls by their measured
  // run time). Negative is an error.
  long long batch_size = 0;
  // A call running longer than this fails with mp::TimeoutError and its worker is
  // replaced (processes only; zero: no limit).
  std::chrono::nanoseconds timeout{0};
  // How the worker processes start.
  StartMethod start_method = StartMethod::fork;
  // Threads each worker process lets OpenMP, BLAS and the like use: cores / n_jobs by
  // default, as joblib does (PoolOptions::inner_max_num_threads).
  int inner_max_num_threads = kInnerThreadsAuto;
  // joblib's pre_dispatch: how many calls may be read from the input ahead of the results
  // taken. 0 (the default) reads them all first, which lets the pool batch best; N reads
  // the input as results come in, so a lazily made input (each call's arguments built when
  // read) is never all in memory: the calls are read as the results are taken, and an
  // input given by reference must live until then. Negative is an error.
  long long pre_dispatch = 0;
  // joblib's verbose: 0 says nothing; above 0 shows the calls' progress on stderr (a bar
  // on a terminal, a line a second otherwise: include/mp/progress.hpp), above 50 on
  // stdout. Negative is an error.
  int verbose = 0;
  // Called with the progress of each call of the Parallel object (at most ten times a
  // second, and once at the end), for programs that draw their own.
  std::function<void(const ProgressInfo&)> progress{};
};

// A function and its arguments, to be called later: what mp::delayed(f)(args...) makes.
template <class F, class... Args>
struct DelayedCall {
  F f;
  std::tuple<Args...> args;
};

template <class F>
struct Delayed {
  F f;
  // Keeps the arguments as Process and apply_async do (a string literal as std::string).
  template <class... Args>
  DelayedCall<F, detail::stored_arg_t<Args>...> operator()(Args&&... args) const {
    return {f, std::tuple<detail::stored_arg_t<Args>...>(std::forward<Args>(args)...)};
  }
  // One call per item: f(item) for each, or f(a, b...) for a tuple or pair of arguments
  // (the generator expression `delayed(f)(x) for x in xs`).
  template <std::ranges::input_range Range>
  auto over(Range&& items) const {
    using Item = std::remove_cvref_t<std::ranges::range_reference_t<Range>>;
    if constexpr (detail::is_specialization<Item, std::tuple>::value ||
                  detail::is_specialization<Item, std::pair>::value) {
      using Call = decltype(std::apply(*this, std::declval<const Item&>()));
      std::vector<Call> calls;
      for (auto&& x : items) {
        calls.push_back(std::apply(*this, static_cast<const Item&>(x)));
      }
      return calls;
    } else {
      using Call = decltype((*this)(std::declval<const Item&>()));
      std::vector<Call> calls;
      for (auto&& x : items) {
        calls.push_back((*this)(static_cast<const Item&>(x)));
      }
      return calls;
    }
  }
};

// joblib's delayed(f): delayed(f)(args...) is the call f(args...), not made yet.
template <class F>
Delayed<std::decay_t<F>> delayed(F&& f) {
  return {std::forward<F>(f)};
}

// The result of one call in Parallel::outcomes(): its value, or the exception it raised.
template <class R>
class Outcome {
 public:
  explicit Outcome(R value) : v_(std::move(value)) {}
  explicit Outcome(std::exception_ptr error) : v_(std::move(error)) {}
  bool ok() const noexcept { return v_.index() == 0; }
  // The value; rethrows the call's exception.
  const R& value() const {
    if (!ok()) {
      std::rethrow_exception(std::get<1>(v_));
    }
    return std::get<0>(v_);
  }
  // The exception, or null.
  std::exception_ptr error() const noexcept { return ok() ? nullptr : std::get<1>(v_); }

 private:
  std::variant<R, std::exception_ptr> v_;
};

// Results handed out one at a time, whichever backend made them.
template <class R>
class ResultStream : public detail::PullRange<ResultStream<R>, R> {
 public:
  explicit ResultStream(std::function<std::optional<R>()> next) : next_(std::move(next)) {}
  std::optional<R> next() { return next_(); }

 private:
  std::function<std::optional<R>()> next_;
};

namespace detail {

template <class T>
struct delayed_traits : std::false_type {};
template <class F, class... Args>
struct delayed_traits<DelayedCall<F, Args...>> : std::true_type {
  using Call = DelayedCall<F, Args...>;
  using Arguments = std::tuple<Args...>;
  using Item = std::tuple<sent_function_t<F>, Args...>;  // the function, then its arguments
  using Result = std::decay_t<std::invoke_result_t<const F&, const Args&...>>;
};

// The function every call names, when it can be sent once for all of them instead of with
// each call: a function object without state, or one function pointer throughout.
template <class F, class... Args>
std::optional<F> shared_function(const std::vector<DelayedCall<F, Args...>>& calls) {
  if (calls.empty()) {
    return std::nullopt;
  }
  if constexpr (std::is_empty_v<F>) {
    return calls.front().f;
  } else if constexpr (is_function_pointer_v<F>) {
    for (const auto& c : calls) {
      if (c.f != calls.front().f) {
        return std::nullopt;
      }
    }
    return calls.front().f;
  } else {
    return std::nullopt;
  }
}

// Calls a DelayedCall's function on its arguments: both travel as one tuple, the
// function first, so calls of one type may still name different functions (two function
// pointers of one signature).
struct ApplyDelayed {
  template <class G, class... Args>
  auto operator()(const std::tuple<G, Args...>& item) const {
    return std::apply([](const G& g, const Args&... args) { return function_of(g)(args...); },
                      item);
  }
};

// The calls of an input range as (function, arguments...) items, made one at a time as
// the range is read: the lazy input of pre_dispatch. Holds the range itself when given an
// rvalue, a reference to it otherwise.
template <class Calls>
class CallItems {
  using Range = std::remove_reference_t<Calls>;
  using Base = std::ranges::iterator_t<Range>;
  using End = std::ranges::sentinel_t<Range>;

 public:
  using Item = typename delayed_traits<std::ranges::range_value_t<Range>>::Item;

  explicit CallItems(Calls&& calls) : calls_(std::forward<Calls>(calls)) {}

  class iterator {
   public:
    using value_type = Item;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    explicit iterator(Base it) : it_(std::move(it)) {}
    Item operator*() const {
      const auto& c = *it_;
      using G = std::tuple_element_t<0, Item>;
      return std::tuple_cat(std::make_tuple(G{c.f}), c.args);
    }
    iterator& operator++() {
      ++it_;
      return *this;
    }
    void operator++(int) { ++it_; }
    friend bool operator==(const iterator& i, const End& end) { return i.it_ == end; }

   private:
    Base it_{};
  };

  iterator begin() { return iterator(std::ranges::begin(calls_)); }
  End end() { return std::ranges::end(calls_); }
  std::size_t size() requires std::ranges::sized_range<Range> {
    return static_cast<std::size_t>(std::ranges::size(calls_));
  }

 private:
  Calls calls_;
};

int effective_jobs(int n_jobs);

}  // namespace detail

class Parallel {
 public:
  explicit Parallel(int n_jobs) : Parallel(ParallelOptions{.n_jobs = n_jobs}) {}
  // Starts the workers (processes or threads). Throws std::invalid_argument for n_jobs 0,
  // a negative batch_size or timeout, or a timeout without the processes backend.
  explicit Parallel(ParallelOptions options) : options_(checked(options)) {
    const int jobs = detail::effective_jobs(options_.n_jobs);
    if (options_.backend == Backend::processes) {
      PoolOptions o;
      o.processes = jobs;
      o.start_method = options_.start_method;
      o.task_timeout = options_.timeout;
      o.inner_max_num_threads = options_.inner_max_num_threads;
      processes_ = std::make_unique<Pool>(o);
    } else if (options_.backend == Backend::threads) {
      threads_ = std::make_unique<ThreadPool>(jobs);
    }
  }

  // The number of workers (1 for the sequential backend).
  int n_jobs() const {
    return processes_ ? processes_->processes() : threads_ ? threads_->processes() : 1;
  }

  // Every call's result, in input order. Rethrows the first failure.
  template <std::ranges::input_range Calls>
  auto operator()(Calls&& calls) {
    using R = typename traits<Calls>::Result;
    if (options_.pre_dispatch > 0) {
      // The input read as results come in; the first failure, in input order, ends the
      // call and what was not sent never runs.
      std::vector<R> out;
      auto results = stream<true>(std::forward<Calls>(calls));
      while (std::optional<R> v = results.next()) {
        out.push_back(std::move(*v));
      }
      return out;
    }
    const detail::ApplyDelayed apply;
    const std::optional<Progress> progress = progress_options();
    // The pools' calls, with or without a progress display.
    const auto run = [&](auto& pool, const auto& f, auto&& items, auto... chunk) {
      if (progress) {
        return pool.map(f, items, chunk..., *progress);
      }
      return pool.map(f, items, chunk...);
    };
    if (processes_) {
      // Auto: chunks of one, merged into messages by their measured run time.
      const long long chunk = std::max<long long>(chunksize(), 1);
      auto all = materialize(std::forward<Calls>(calls));
      if (auto f = detail::shared_function(all)) {
        // One function for all: it goes once per message, each call sends its arguments.
        std::vector<typename traits<Calls>::Arguments> args;
        args.reserve(all.size());
        for (auto& c : all) {
          args.push_back(std::move(c.args));
        }
        return progress ? processes_->starmap(*f, args, chunk, *progress)
                        : processes_->starmap(*f, args, chunk);
      }
      return run(*processes_, apply, collect(all), chunk);
    }
    auto items = collect(std::forward<Calls>(calls));
    if (threads_) {
      return chunksize() > 0 ? run(*threads_, apply, items, chunksize())
                             : run(*threads_, apply, items);
    }
    std::optional<detail::ProgressReporter> reporter;
    if (progress) {
      reporter.emplace(*progress, items.size());
    }
    std::vector<R> out;
    out.reserve(items.size());
    for (const auto& item : items) {
      out.push_back(apply(item));
      if (reporter) {
        reporter->update(out.size());
      }
    }
    if (reporter) {
      reporter->finish(out.size());
    }
    return out;
  }

  // Results in input order as they come (joblib's return_as="generator"). A failure is
  // rethrown at its position; iteration may go on after it.
  template <std::ranges::input_range Calls>
  ResultStream<typename detail::delayed_traits<
      std::ranges::range_value_t<std::remove_reference_t<Calls>>>::Result>
  generator(Calls&& calls) {
    return stream<true>(std::forward<Calls>(calls));
  }
  // Results in completion order (return_as="generator_unordered").
  template <std::ranges::input_range Calls>
  ResultStream<typename detail::delayed_traits<
      std::ranges::range_value_t<std::remove_reference_t<Calls>>>::Result>
  generator_unordered(Calls&& calls) {
    return stream<false>(std::forward<Calls>(calls));
  }

  // One outcome per call, in input order: its value or its exception. One bad input
  // does not throw the other results away.
  template <std::ranges::input_range Calls>
  auto outcomes(Calls&& calls) {
    using R = typename traits<Calls>::Result;
    std::vector<Outcome<R>> out;
    auto results = generator(std::forward<Calls>(calls));
    for (;;) {
      try {
        std::optional<R> v = results.next();
        if (!v) {
          break;
        }
        out.emplace_back(std::move(*v));
      } catch (const Interrupted&) {
        throw;
      } catch (...) {
        out.emplace_back(std::current_exception());
      }
    }
    return out;
  }

 private:
  template <class Calls>
  using traits = detail::delayed_traits<std::ranges::range_value_t<std::remove_reference_t<Calls>>>;
  template <class Calls>
  struct checked_traits : traits<Calls> {
    static_assert(traits<Calls>::value,
                  "mp: Parallel takes a range of mp::delayed(f)(args...) calls, all of one type");
  };

  static ParallelOptions checked(ParallelOptions o) {
    if (o.n_jobs == 0) {
      throw std::invalid_argument("mp: Parallel n_jobs must not be 0 (-1 means all CPUs)");
    }
    if (o.batch_size < 0) {
      throw std::invalid_argument("mp: Parallel batch_size must be 0 (auto) or positive, not " +
                                  std::to_string(o.batch_size));
    }
    if (o.pre_dispatch < 0) {
      throw std::invalid_argument(
          "mp: Parallel pre_dispatch must be 0 (read all calls first) or positive, not " +
          std::to_string(o.pre_dispatch));
    }
    if (o.verbose < 0) {
      throw std::invalid_argument("mp: Parallel verbose must be 0 (quiet) or positive, not " +
                                  std::to_string(o.verbose));
    }
    if (o.timeout.count() < 0) {
      throw std::invalid_argument("mp: Parallel timeout must be zero (none) or positive");
    }
    if (o.timeout.count() > 0 && o.backend != Backend::processes) {
      throw std::invalid_argument(
          "mp: Parallel timeout needs the processes backend: a thread cannot be stopped");
    }
    return o;
  }

  long long chunksize() const { return options_.batch_size; }

  // What verbose and progress ask for, if anything.
  std::optional<Progress> progress_options() const {
    if (options_.verbose == 0 && !options_.progress) {
      return std::nullopt;
    }
    Progress p;
    p.show = options_.verbose > 0;
    p.fd = options_.verbose > 50 ? 1 : 2;
    p.callback = options_.progress;
    p.label = "Parallel(n_jobs=" + std::to_string(n_jobs()) + ")";
    return p;
  }

  template <class Calls>
  static auto materialize(Calls&& calls) {
    using Traits = checked_traits<Calls>;
    std::vector<typename Traits::Call> out;
    for (auto&& c : calls) {
      out.push_back(c);
    }
    return out;
  }

  // The calls as (function, arguments...) tuples.
  template <class Calls>
  static auto collect(Calls&& calls) {
    using Traits = checked_traits<Calls>;
    std::vector<typename Traits::Item> items;
    for (auto&& c : calls) {
      using G = std::tuple_element_t<0, typename Traits::Item>;
      items.push_back(std::tuple_cat(std::make_tuple(G{c.f}), c.args));
    }
    return items;
  }

  template <bool Ordered, class Calls>
  auto stream(Calls&& calls) {
    using R = typename traits<Calls>::Result;
    (void)sizeof(checked_traits<Calls>);  // says so if these are not delayed calls
    std::size_t total = 0;                // not known for a lazy input without a size
    ResultStream<R> results = [&] {
      if (options_.pre_dispatch > 0) {
        detail::CallItems<Calls> lazy(std::forward<Calls>(calls));
        if constexpr (requires { lazy.size(); }) {
          total = lazy.size();
        }
        return open_stream<Ordered, R>(std::move(lazy));
      }
      auto items = collect(std::forward<Calls>(calls));
      total = items.size();
      return open_stream<Ordered, R>(std::move(items));
    }();
    const std::optional<Progress> progress = progress_options();
    if (!progress) {
      return results;
    }
    // Progress counts the results handed out, as the caller takes them.
    struct Reported {
      Reported(ResultStream<R> r, const Progress& p, std::size_t total)
          : results(std::move(r)), reporter(p, total) {}
      ResultStream<R> results;
      detail::ProgressReporter reporter;
      std::size_t done = 0;
    };
    auto state = std::make_shared<Reported>(std::move(results), *progress, total);
    return ResultStream<R>([state]() -> std::optional<R> {
      std::optional<R> v;
      try {
        v = state->results.next();
      } catch (...) {
        state->reporter.update(++state->done);
        throw;
      }
      if (!v) {
        state->reporter.finish(state->done);
        return v;
      }
      state->reporter.update(++state->done);
      return v;
    });
  }

  // The results of the calls as a stream, drawing no progress. `items`: the calls as
  // (function, arguments...) tuples, all made already or made as they are read.
  template <bool Ordered, class R, class Items>
  ResultStream<R> open_stream(Items&& items) {
    const long long chunk = std::max<long long>(chunksize(), 1);
    // pre_dispatch calls ahead of the results taken (0: the pools' default windows).
    const auto ahead = static_cast<std::size_t>(options_.pre_dispatch);
    const std::size_t chunks_ahead =
        (ahead + static_cast<std::size_t>(chunk) - 1) / static_cast<std::size_t>(chunk);
    auto from = [&](auto results) {
      auto held = std::make_shared<decltype(results)>(std::move(results));
      return ResultStream<R>([held] { return held->next(); });
    };
    if (processes_) {
      return from(processes_->template submit_stream<Ordered>(
          detail::ApplyDelayed{}, std::forward<Items>(items), chunk, ahead));
    }
    if (threads_) {
      return from(threads_->template make_imap<Ordered>(
          detail::ApplyDelayed{}, std::forward<Items>(items), chunk, chunks_ahead));
    }
    // Sequential: each call made when its result is asked for.
    struct Sequential {
      explicit Sequential(Items&& i)
          : items(std::forward<Items>(i)), it(std::ranges::begin(items)) {}
      std::remove_cvref_t<Items> items;
      std::ranges::iterator_t<std::remove_cvref_t<Items>> it;
    };
    auto state = std::make_shared<Sequential>(std::forward<Items>(items));
    return ResultStream<R>([state]() -> std::optional<R> {
      if (state->it == std::ranges::end(state->items)) {
        return std::nullopt;
      }
      auto item = *state->it;
      ++state->it;
      return detail::ApplyDelayed{}(item);
    });
  }

  ParallelOptions options_;
  std::unique_ptr<Pool> processes_;
  std::unique_ptr<ThreadPool> threads_;
};

}  // namespace mp
