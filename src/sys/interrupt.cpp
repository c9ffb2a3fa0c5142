#include "sys/interrupt.hpp"

#include <signal.h>

#include <atomic>
#include <mutex>
#include <new>

namespace mp::sys {
namespace {

constexpr int kWatched[] = {SIGINT, SIGTERM};
constexpr int kCount = sizeof kWatched / sizeof kWatched[0];

// Lock-free, so the handler may touch it.
std::atomic<int> g_pending{0};
static_assert(std::atomic<int>::is_always_lock_free);

std::mutex g_mutex;
int g_depth = 0;  // live watches, across threads
bool g_installed[kCount] = {};
struct sigaction g_previous[kCount];

void record(int signal) { g_pending.store(signal, std::memory_order_relaxed); }

bool is_ours(int signal) {
  struct sigaction current {};
  return ::sigaction(signal, nullptr, &current) == 0 && (current.sa_flags & SA_SIGINFO) == 0 &&
         current.sa_handler == record;
}

}  // namespace

InterruptWatch::InterruptWatch() {
  std::lock_guard lock(g_mutex);
  if (g_depth++ > 0) {
    return;
  }
  for (int i = 0; i < kCount; ++i) {
    g_installed[i] = false;
    struct sigaction current {};
    if (::sigaction(kWatched[i], nullptr, &current) != 0 || (current.sa_flags & SA_SIGINFO) != 0 ||
        current.sa_handler != SIG_DFL) {
      continue;
    }
    struct sigaction mine {};
    mine.sa_handler = record;
    ::sigemptyset(&mine.sa_mask);
    // poll and epoll_wait return EINTR whatever the flag; SA_RESTART spares the
    // application's other threads EINTR from their reads and writes meanwhile.
    mine.sa_flags = SA_RESTART;
    if (::sigaction(kWatched[i], &mine, &g_previous[i]) == 0) {
      g_installed[i] = true;
    }
  }
}

InterruptWatch::~InterruptWatch() {
  int unseen = 0;
  {
    std::lock_guard lock(g_mutex);
    if (--g_depth > 0) {
      return;
    }
    for (int i = 0; i < kCount; ++i) {
      // An action the application set meanwhile is its own: leave it.
      if (g_installed[i] && is_ours(kWatched[i])) {
        ::sigaction(kWatched[i], &g_previous[i], nullptr);
      }
      g_installed[i] = false;
    }
    unseen = g_pending.exchange(0, std::memory_order_relaxed);
  }
  if (unseen != 0) {
    ::raise(unseen);
  }
}

void InterruptWatch::reset_in_child() noexcept {
  for (int i = 0; i < kCount; ++i) {
    if (is_ours(kWatched[i])) {
      ::signal(kWatched[i], SIG_DFL);
    }
    g_installed[i] = false;
  }
  // The child has one thread and no watch of its own; the parent's count, and its mutex
  // (which another thread of the parent may have held at the fork), start afresh.
  g_depth = 0;
  new (&g_mutex) std::mutex;
  g_pending.store(0, std::memory_order_relaxed);
}

int InterruptWatch::take() noexcept { return g_pending.exchange(0, std::memory_order_relaxed); }

}  // namespace mp::sys
