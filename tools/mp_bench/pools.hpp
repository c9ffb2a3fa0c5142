// mp::Pool set-up shared by the experiments.
#pragma once

#include <mp/pool.hpp>

#include <memory>

namespace mp_bench {

// A pool of `workers` processes, started and warmed by a first small map before any
// clock runs (pool start-up is measured on its own: overhead's pool.startup). Dropping
// the last reference closes and joins it, so no worker is killed mid-task.
std::shared_ptr<mp::Pool> start_pool(int workers);

}  // namespace mp_bench
