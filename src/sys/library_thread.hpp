// The library's own threads (a pool's progress thread), told apart from the program's.
//
// A fork copies only the calling thread, and a lock another thread holds stays locked in
// the child. The library's threads hold no lock a child needs when anything forks, so
// the checks before a fork leave them out; and they block the signals meant for the
// program, which a child they fork must not inherit.
#pragma once

namespace mp::sys {

// Marks the calling thread as the library's for the scope's lifetime.
class LibraryThreadScope {
 public:
  LibraryThreadScope() noexcept;
  ~LibraryThreadScope();
  LibraryThreadScope(const LibraryThreadScope&) = delete;
  LibraryThreadScope& operator=(const LibraryThreadScope&) = delete;
};

// Live library threads in this process.
int library_threads() noexcept;
bool on_library_thread() noexcept;

}  // namespace mp::sys
