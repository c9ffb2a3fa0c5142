// A Pool that outlives main: held in a global, filled in main, destroyed by the exit
// handlers after the library's own statics may have gone. The program must exit 0 on
// every start method (the one named by argv[1]).
#include <cstdio>
#include <cstring>
#include <memory>
#include <mp/mp.hpp>
#include <vector>

namespace {
std::unique_ptr<mp::Pool> g_pool;
}

int main(int argc, char** argv) {
  mp::init(argc, argv);
  mp::PoolOptions o;
  o.processes = 2;
  if (argc > 1 && std::strcmp(argv[1], "forkserver") == 0) {
    o.start_method = mp::StartMethod::forkserver;
  } else if (argc > 1 && std::strcmp(argv[1], "spawn") == 0) {
    o.start_method = mp::StartMethod::spawn;
  }
  g_pool = std::make_unique<mp::Pool>(o);
  const auto ys = g_pool->map([](int x) { return x * 2; }, std::vector<int>{1, 2, 3});
  std::printf("global pool: %d %d %d\n", ys[0], ys[1], ys[2]);
  return ys[2] == 6 ? 0 : 1;
}
