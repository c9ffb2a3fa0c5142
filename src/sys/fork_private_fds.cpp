#include "sys/fork_private_fds.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>

namespace mp::sys {
namespace {

std::mutex g_mutex;
std::vector<int> g_fds;

}  // namespace

void register_fork_private_fd(int fd) {
  std::lock_guard lock(g_mutex);
  g_fds.push_back(fd);
}

void unregister_fork_private_fd(int fd) {
  std::lock_guard lock(g_mutex);
  if (auto it = std::find(g_fds.begin(), g_fds.end(), fd); it != g_fds.end()) {
    g_fds.erase(it);
  }
}

bool has_fork_private_fds() noexcept {
  std::lock_guard lock(g_mutex);
  return !g_fds.empty();
}

void release_fork_private_fds_in_child(const std::vector<int>& keep) noexcept {
  // Another thread of the parent may have held the lock at the fork; the list is then
  // not to be trusted, and the child keeps what it inherited.
  std::unique_lock lock(g_mutex, std::try_to_lock);
  if (!lock.owns_lock() || g_fds.empty()) {
    return;
  }
  int hung_up[2];
  if (::pipe2(hung_up, O_CLOEXEC) != 0) {
    return;
  }
  ::close(hung_up[1]);
  for (int fd : g_fds) {
    if (std::find(keep.begin(), keep.end(), fd) == keep.end()) {
      ::dup3(hung_up[0], fd, O_CLOEXEC);
    }
  }
  ::close(hung_up[0]);
}

}  // namespace mp::sys
