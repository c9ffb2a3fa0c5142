#include "sys/library_thread.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <vector>

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define MP_TSAN_RUNTIME 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define MP_TSAN_RUNTIME 1
#endif

namespace mp::sys {
namespace {
// ThreadSanitizer's runtime runs a thread of its own in every instrumented program.
#ifdef MP_TSAN_RUNTIME
constexpr int kRuntimeThreads = 1;
#else
constexpr int kRuntimeThreads = 0;
#endif
std::atomic<int> g_library_threads{0};
thread_local bool t_library_thread = false;

// Library threads that have ended. A joined thread may still be exiting, and the kernel
// counts it among the process's threads until it is gone; without these, a pool started
// right after another one ended would take the old progress thread for the program's.
struct Ended {
  pid_t tid;
  std::chrono::steady_clock::time_point at;
};
// Exiting takes well under this; a thread number older than it may name a new thread.
constexpr std::chrono::seconds kExitingAtMost{1};
std::mutex g_ended_mutex;
// Never destroyed: a detached library thread (a pool whose last owner let go in one of its
// callbacks) may end while the program's statics are being destroyed at exit.
std::vector<Ended>& ended_threads() {
  static auto* ended = new std::vector<Ended>();
  return *ended;
}

int ended_but_still_counted() noexcept {
  // In a child forked while another thread held the lock, the list is not to be trusted
  // (and names none of the child's threads).
  std::unique_lock lock(g_ended_mutex, std::try_to_lock);
  if (!lock) {
    return 0;
  }
  std::vector<Ended>& ended = ended_threads();
  const auto now = std::chrono::steady_clock::now();
  int counted = 0;
  for (std::size_t i = 0; i < ended.size();) {
    struct stat st;
    char task[48];
    std::snprintf(task, sizeof task, "/proc/self/task/%d", static_cast<int>(ended[i].tid));
    if (now - ended[i].at < kExitingAtMost && ::stat(task, &st) == 0) {
      ++counted;
      ++i;
    } else {
      ended[i] = ended.back();
      ended.pop_back();
    }
  }
  return counted;
}
}  // namespace

LibraryThreadScope::LibraryThreadScope() noexcept {
  t_library_thread = true;
  g_library_threads.fetch_add(1, std::memory_order_relaxed);
}

LibraryThreadScope::~LibraryThreadScope() {
  try {
    std::lock_guard lock(g_ended_mutex);
    ended_threads().push_back({::gettid(), std::chrono::steady_clock::now()});
  } catch (...) {
    // Out of memory: at worst a warning about threads comes too readily.
  }
  g_library_threads.fetch_sub(1, std::memory_order_relaxed);
  t_library_thread = false;
}

int library_threads() noexcept {
  return g_library_threads.load(std::memory_order_relaxed) + kRuntimeThreads +
         ended_but_still_counted();
}
bool on_library_thread() noexcept { return t_library_thread; }

}  // namespace mp::sys
