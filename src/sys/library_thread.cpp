#include "sys/library_thread.hpp"

#include <atomic>

namespace mp::sys {
namespace {
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

int library_threads() noexcept { return g_library_threads.load(std::memory_order_relaxed); }
bool on_library_thread() noexcept { return t_library_thread; }

}  // namespace mp::sys
