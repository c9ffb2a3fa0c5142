// A program that uses the spawn and forkserver methods without calling mp::init: a
// process started by exec runs main again up to its first Process::start or Pool, and
// turns into what it was started for there (as Python's spawn re-imports the main
// module). It must neither hang nor start processes without end. Exits 0 if every
// result is right.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <mp/mp.hpp>
#include <numeric>
#include <vector>

int main() {
  std::printf("main starts in pid %d\n", static_cast<int>(::getpid()));
  std::fflush(stdout);
  bool ok = true;
  for (const mp::StartMethod method : {mp::StartMethod::spawn, mp::StartMethod::forkserver}) {
    mp::Process p([](int code) { std::_Exit(code); }, 7);
    p.set_start_method(method);
    p.start();
    p.join();
    ok = ok && p.exitcode() == 7;

    mp::PoolOptions o;
    o.processes = 2;
    o.start_method = method;
    mp::Pool pool(o);
    std::vector<int> xs(100);
    std::iota(xs.begin(), xs.end(), 0);
    const std::vector<int> ys = pool.map([](int x) { return 2 * x; }, xs);
    ok = ok && std::accumulate(ys.begin(), ys.end(), 0) == 9900;
    std::printf("%s: Process exit code %d, Pool sum %d\n",
                std::string(mp::to_string(method)).c_str(), p.exitcode().value_or(-1),
                std::accumulate(ys.begin(), ys.end(), 0));
  }
  return ok ? 0 : 1;
}
