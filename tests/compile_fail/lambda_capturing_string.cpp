// Must not compile: a lambda capturing a std::string cannot be sent to a worker.
#include <mp/mp.hpp>
#include <string>
#include <vector>

int main() {
  mp::Pool pool(1);
  std::string suffix = "!";
  pool.map([suffix](int x) { return std::to_string(x) + suffix; }, std::vector<int>{1});
}
