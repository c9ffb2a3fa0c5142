// PoolOptions::inner_max_num_threads: the threads an OpenMP loop inside a task really
// runs on, counted in the workers of every start method.
#include <gtest/gtest.h>
#include <omp.h>

#include <cstdlib>
#include <mp/mp.hpp>
#include <string>
#include <vector>

#include "helpers/hygiene.hpp"

namespace {

using ThreadBudgetTest = mp::test::HygieneTest;

struct Seen {
  int team = 0;         // threads of an OpenMP parallel region run in the task
  int max_threads = 0;  // omp_get_max_threads()
  std::string env;      // OMP_NUM_THREADS as the task sees it ("-" if unset)
  template <class Archive>
  void serialize(Archive& ar) {
    ar(team, max_threads, env);
  }
};

Seen openmp_in_task(int) {
  Seen s;
  s.max_threads = omp_get_max_threads();
#pragma omp parallel
  {
#pragma omp single
    s.team = omp_get_num_threads();
  }
  const char* e = std::getenv("OMP_NUM_THREADS");
  s.env = e != nullptr ? e : "-";
  return s;
}

Seen seen_in_worker(int workers, int inner, mp::StartMethod method) {
  mp::PoolOptions o;
  o.processes = workers;
  o.start_method = method;
  o.inner_max_num_threads = inner;
  mp::Pool pool(o);
  return pool.apply(openmp_in_task, 0);
}

const mp::StartMethod kMethods[] = {mp::StartMethod::fork, mp::StartMethod::forkserver,
                                    mp::StartMethod::spawn};

TEST_F(ThreadBudgetTest, AutoGivesEachWorkerItsShareOfTheCores) {
  const int share = std::max(1, mp::cpu_count() / 2);
  for (mp::StartMethod m : kMethods) {
    const Seen s = seen_in_worker(2, mp::kInnerThreadsAuto, m);
    EXPECT_EQ(s.team, share) << mp::to_string(m);
    EXPECT_EQ(s.max_threads, share) << mp::to_string(m);
    EXPECT_EQ(s.env, std::to_string(share)) << mp::to_string(m);
  }
}

TEST_F(ThreadBudgetTest, AnExplicitCountIsWhatALoopRunsOn) {
  for (mp::StartMethod m : kMethods) {
    const Seen s = seen_in_worker(2, 3, m);
    EXPECT_EQ(s.team, 3) << mp::to_string(m);
    EXPECT_EQ(s.env, "3") << mp::to_string(m);
  }
}

TEST_F(ThreadBudgetTest, ByDefaultAPoolLeavesNestedLibrariesAlone) {
  const Seen here = openmp_in_task(0);
  const Seen s = seen_in_worker(2, 0, mp::StartMethod::fork);
  EXPECT_EQ(s.max_threads, here.max_threads);
  EXPECT_EQ(s.env, here.env);
}

TEST_F(ThreadBudgetTest, ParallelLimitsItsWorkersLikeJoblib) {
  mp::Parallel parallel(2);
  const std::vector<Seen> seen = parallel(mp::delayed(openmp_in_task).over(std::vector<int>{0}));
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].team, std::max(1, mp::cpu_count() / 2));
}

TEST_F(ThreadBudgetTest, AutoKeepsWhatTheUserSetAndAnExplicitCountOverridesIt) {
  // A spawned worker starts a new program, whose OpenMP reads the inherited variable.
  ASSERT_EQ(::setenv("OMP_NUM_THREADS", "2", 1), 0);
  const Seen kept = seen_in_worker(2, mp::kInnerThreadsAuto, mp::StartMethod::spawn);
  const Seen overridden = seen_in_worker(2, 3, mp::StartMethod::spawn);
  ::unsetenv("OMP_NUM_THREADS");
  EXPECT_EQ(kept.env, "2");
  EXPECT_EQ(kept.team, 2);
  EXPECT_EQ(overridden.env, "3");
  EXPECT_EQ(overridden.team, 3);
}

TEST_F(ThreadBudgetTest, ACountBelowAutoIsRefused) {
  mp::PoolOptions o;
  o.processes = 1;
  o.inner_max_num_threads = -2;
  EXPECT_THROW(mp::Pool pool(o), std::invalid_argument);
}

}  // namespace
