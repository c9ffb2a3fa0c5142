// Seed 003's Pool reference: Pool(processes, initializer, initargs), map(func, iterable,
// chunksize), results in input order.
//
// Python:  with Pool(processes=4, initializer=init, initargs=(10,)) as pool:
//              pool.map(my_function, range(20), chunksize=5)
// C++:     mp::PoolOptions o; o.processes = 4;
//          o.initializer = mp::bind_initializer(init, 10);
//          mp::Pool pool(o); pool.map(my_function, xs, 5);
//
// The initializer runs once in every worker before its first task; each chunk of five
// goes to one worker, which the printed PIDs show. Usage: 09_pool_initializer [items = 20]
#include <mp/mp.hpp>  // Pool, PoolOptions, bind_initializer

#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <utility>
#include <vector>

namespace {

int g_factor = 0;  // set in each worker by the initializer

void init(int factor) { g_factor = factor; }

std::pair<int, int> my_function(int x) {
  return {x * g_factor, static_cast<int>(mp::current_process().pid())};
}

}  // namespace

int main(int argc, char** argv) {
  mp::init(argc, argv);
  const int items = argc > 1 ? std::atoi(argv[1]) : 20;
  std::vector<int> xs(static_cast<std::size_t>(items));
  std::iota(xs.begin(), xs.end(), 0);
  mp::PoolOptions o;
  o.processes = 4;
  o.initializer = mp::bind_initializer(init, 10);
  mp::Pool pool(o);
  const auto results = pool.map(my_function, xs, 5);
  bool ok = true;
  for (int i = 0; i < items; ++i) {
    const auto [value, pid] = results[static_cast<std::size_t>(i)];
    std::printf("my_function(%d) = %d in PID %d\n", i, value, pid);
    ok = ok && value == i * 10;
  }
  pool.close();
  pool.join();
  std::printf("%s\n", ok ? "results in input order, each from an initialized worker" : "WRONG");
  return ok ? 0 : 1;
}
