#include "pools.hpp"

#include <fmt/core.h>

#include <cstdio>
#include <exception>
#include <vector>

#include "workloads.hpp"

namespace mp_bench {

std::shared_ptr<mp::Pool> start_pool(int workers) {
  auto pool = std::shared_ptr<mp::Pool>(new mp::Pool(workers), [](mp::Pool* p) {
    try {
      p->close();
      p->join();
    } catch (const std::exception& e) {
      fmt::print(stderr, "mp-bench: closing a pool: {}\n", e.what());
    }
    delete p;
  });
  std::vector<int> warm(static_cast<std::size_t>(workers) * 4, 1);
  pool->map(add_one, warm, 1);
  return pool;
}

}  // namespace mp_bench
