// Must not compile: a raw pointer means nothing in another process.
#include <mp/mp.hpp>
#include <vector>

int g_value = 0;
int* address(int) { return &g_value; }

int main() {
  mp::Pool pool(1);
  pool.map(address, std::vector<int>{1});
}
