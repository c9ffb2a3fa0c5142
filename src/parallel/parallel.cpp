#include "mp/parallel.hpp"

#include <algorithm>

namespace mp::detail {

// joblib's rule: n_jobs < 0 counts back from the CPUs (-1: all of them), at least one.
int effective_jobs(int n_jobs) {
  if (n_jobs > 0) {
    return n_jobs;
  }
  return std::max(mp::cpu_count() + 1 + n_jobs, 1);
}

}  // namespace mp::detail
