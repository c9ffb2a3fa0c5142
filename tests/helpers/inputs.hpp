// Inputs the tests feed to pools.
#pragma once

#include <numeric>
#include <vector>

namespace mp::test {

// 0, 1, ..., n-1.
inline std::vector<int> iota(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  std::iota(v.begin(), v.end(), 0);
  return v;
}

}  // namespace mp::test
