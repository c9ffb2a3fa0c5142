#include "sys/interrupt.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
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

// The farewell's bytes; the size is published last, so the handler never reads a
// half-written message.
char g_farewell[255];
std::atomic<int> g_farewell_size{0};
std::atomic<int> g_farewell_fd{-1};

void say_farewell(int signal) {
  const int size = g_farewell_size.load(std::memory_order_acquire);
  const int fd = g_farewell_fd.load(std::memory_order_relaxed);
  for (int done = 0; fd >= 0 && done < size;) {
    const ssize_t n = ::write(fd, g_farewell + done, static_cast<std::size_t>(size - done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    done += static_cast<int>(n);
  }
  // Blocked while this handler runs: delivered on return, with the default action.
  ::signal(signal, SIG_DFL);
  ::raise(signal);
}

bool handled_by(const struct sigaction& action, void (*handler)(int)) {
  return (action.sa_flags & SA_SIGINFO) == 0 && action.sa_handler == handler;
}

bool current_handler_is(int signal, void (*handler)(int)) {
  struct sigaction current {};
  return ::sigaction(signal, nullptr, &current) == 0 && handled_by(current, handler);
}

bool is_ours(int signal) { return current_handler_is(signal, record); }

// A farewell ends the process as the default action does, after its write.
bool acts_as_default(const struct sigaction& action) {
  return handled_by(action, SIG_DFL) || handled_by(action, say_farewell);
}

struct sigaction action_of(void (*handler)(int)) {
  struct sigaction action {};
  action.sa_handler = handler;
  ::sigemptyset(&action.sa_mask);
  return action;
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
    if (::sigaction(kWatched[i], nullptr, &current) != 0 || !acts_as_default(current)) {
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
    if (is_ours(kWatched[i]) || current_handler_is(kWatched[i], say_farewell)) {
      ::signal(kWatched[i], SIG_DFL);
    }
    g_installed[i] = false;
  }
  // The farewell is the parent's: a worker ended by SIGTERM must not write it.
  g_farewell_size.store(0, std::memory_order_relaxed);
  // The child has one thread and no watch of its own; the parent's count, and its mutex
  // (which another thread of the parent may have held at the fork), start afresh.
  g_depth = 0;
  new (&g_mutex) std::mutex;
  g_pending.store(0, std::memory_order_relaxed);
}

void set_farewell(int fd, std::string_view bytes) {
  std::lock_guard lock(g_mutex);
  g_farewell_size.store(0, std::memory_order_relaxed);
  const std::size_t size = std::min(bytes.size(), sizeof g_farewell);
  std::memcpy(g_farewell, bytes.data(), size);
  g_farewell_fd.store(fd, std::memory_order_relaxed);
  g_farewell_size.store(static_cast<int>(size), std::memory_order_release);
  for (int i = 0; i < kCount; ++i) {
    if (g_installed[i]) {
      // A live watch records the signal and restores this when it ends.
      if (handled_by(g_previous[i], SIG_DFL)) {
        g_previous[i] = action_of(say_farewell);
      }
      continue;
    }
    struct sigaction current {};
    if (::sigaction(kWatched[i], nullptr, &current) == 0 && handled_by(current, SIG_DFL)) {
      const struct sigaction mine = action_of(say_farewell);
      ::sigaction(kWatched[i], &mine, nullptr);
    }
  }
}

void clear_farewell() {
  std::lock_guard lock(g_mutex);
  g_farewell_size.store(0, std::memory_order_relaxed);
  for (int i = 0; i < kCount; ++i) {
    if (g_installed[i]) {
      if (handled_by(g_previous[i], say_farewell)) {
        g_previous[i] = action_of(SIG_DFL);
      }
      continue;
    }
    if (current_handler_is(kWatched[i], say_farewell)) {
      ::signal(kWatched[i], SIG_DFL);
    }
  }
}

int InterruptWatch::take() noexcept { return g_pending.exchange(0, std::memory_order_relaxed); }

}  // namespace mp::sys
