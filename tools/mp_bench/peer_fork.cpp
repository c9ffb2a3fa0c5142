// The floor of starting workers: fork children that exit at once, and wait for them.
// A pool's start-up does this plus its shared memory, the first task and the shutdown,
// so pool.startup can approach this number but not beat it. Forking costs in proportion
// to what the parent has mapped, so it is measured in the same process, in the same run.
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <vector>

#include "peers.hpp"

namespace mp_bench::peers {

RoundTrips fork_wait(int children) {
  std::vector<pid_t> pids;
  pids.reserve(static_cast<std::size_t>(children));
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < children; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::_exit(0);
    }
    if (pid > 0) {
      pids.push_back(pid);
    }
  }
  bool ok = static_cast<int>(pids.size()) == children;
  for (const pid_t pid : pids) {
    int status = 0;
    ok = ::waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 && ok;
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  return {took.count(), ok};
}

}  // namespace mp_bench::peers
