#include <mp/mp.hpp>
#include <vector>

int twice(int x) { return 2 * x; }

int main() {
  mp::Pool pool(2);
  const auto ys = pool.map(twice, std::vector<int>{1, 2, 3});
  pool.close();
  pool.join();
  return ys == std::vector<int>{2, 4, 6} ? 0 : 1;
}
