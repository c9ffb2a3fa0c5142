#include "sys/library_thread.hpp"

#include <atomic>

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
}  // namespace

LibraryThreadScope::LibraryThreadScope() noexcept {
  t_library_thread = true;
  g_library_threads.fetch_add(1, std::memory_order_relaxed);
}

LibraryThreadScope::~LibraryThreadScope() {
  g_library_threads.fetch_sub(1, std::memory_order_relaxed);
  t_library_thread = false;
}

int library_threads() noexcept {
  return g_library_threads.load(std::memory_order_relaxed) + kRuntimeThreads;
}
bool on_library_thread() noexcept { return t_library_thread; }

}  // namespace mp::sys
