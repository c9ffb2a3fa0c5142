// Running one test on every start method (fork, forkserver, spawn): a test written with
// TEST_P on a StartMethodTest fixture builds its pools from options(), and
// MP_TEST_ALL_START_METHODS(Suite) instantiates it once per method, as Suite.Name/method.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <mp/pool_options.hpp>
#include <mp/process.hpp>
#include <mp/start_method.hpp>
#include <string>

#include "helpers/hygiene.hpp"

namespace mp::test {

// Options for a pool of `processes` workers started by `method`.
inline PoolOptions options_for(StartMethod method, int processes = 0) {
  PoolOptions o;
  o.processes = processes;
  o.start_method = method;
  return o;
}

class StartMethodTest : public HygieneTest, public ::testing::WithParamInterface<StartMethod> {
 protected:
  // Options for a pool of `processes` workers started by the method under test.
  PoolOptions options(int processes = 0) const { return options_for(GetParam(), processes); }
  // A Process running f(args...), started by the method under test.
  template <class F, class... Args>
  Process start_process(F f, Args... args) const {
    Process p(f, args...);
    p.set_start_method(GetParam());
    p.start();
    return p;
  }
};

// Waits at most `limit` for `p`, which must then have exited with status 0.
inline void join_ok(Process& p, std::chrono::seconds limit) {
  ASSERT_TRUE(p.join(limit)) << "a child did not finish";
  EXPECT_EQ(p.exitcode(), 0);
}

inline std::string start_method_name(const ::testing::TestParamInfo<StartMethod>& info) {
  return std::string(to_string(info.param));
}

}  // namespace mp::test

#define MP_TEST_ALL_START_METHODS(Suite)                                        \
  INSTANTIATE_TEST_SUITE_P(                                                     \
      , Suite,                                                                  \
      ::testing::Values(::mp::StartMethod::fork, ::mp::StartMethod::forkserver, \
                        ::mp::StartMethod::spawn),                              \
      ::mp::test::start_method_name)
