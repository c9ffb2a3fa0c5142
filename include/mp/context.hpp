// mp::get_context: Python's multiprocessing.get_context, a start method bound to the
// factories that use it.
//
//   auto ctx = mp::get_context("forkserver");
//   mp::Pool pool = ctx.pool(4);
//   mp::Process p = ctx.process(task, "first", 10'000'000L);
#pragma once

#include <string_view>
#include <utility>

#include "mp/pool.hpp"
#include "mp/process.hpp"
#include "mp/start_method.hpp"

namespace mp {

class Context {
 public:
  explicit Context(StartMethod method) noexcept : method_(method) {}
  StartMethod start_method() const noexcept { return method_; }

  // A Pool whose workers start by this method (options.start_method is overridden).
  Pool pool(PoolOptions options = {}) const {
    options.start_method = method_;
    return Pool(std::move(options));
  }
  Pool pool(int processes) const {
    PoolOptions options;
    options.processes = processes;
    return pool(std::move(options));
  }
  // A Process (not started) that starts by this method.
  template <class F, class... Args>
  Process process(F&& target, Args&&... args) const {
    Process p(std::forward<F>(target), std::forward<Args>(args)...);
    p.set_start_method(method_);
    return p;
  }

 private:
  StartMethod method_;
};

// The context of the start method named `name` ("fork", "forkserver", "spawn"); throws
// std::invalid_argument for another name.
inline Context get_context(std::string_view name) { return Context(start_method_from_name(name)); }

}  // namespace mp
