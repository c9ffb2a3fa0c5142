// Must not compile: a std::function hides its target behind a pointer.
#include <functional>
#include <mp/mp.hpp>
#include <vector>

int main() {
  mp::Pool pool(1);
  std::function<int(int)> f = [](int x) { return x; };
  pool.map(f, std::vector<int>{1});
}
