// The threads a worker lets nested parallel libraries use (PoolOptions::
// inner_max_num_threads), as joblib's loky backend does: the environment variables those
// libraries read when they start, and the setters of those already loaded, found by name.
#pragma once

namespace mp::runtime {

// Finds the setters of the thread-pool libraries loaded in this process, once. The parent
// calls it before it forks a worker: the lookup takes the dynamic loader's lock, which
// another of the parent's threads may hold at the fork. A worker the fork server or spawn
// started looks them up itself, alone in its process.
void find_thread_library_setters() noexcept;

// In a worker, before its initializer: `threads` for each library (0: nothing is done).
// Without `forced`, a variable the environment already sets is left as it is, and so is
// the library that reads it.
void limit_inner_threads(int threads, bool forced) noexcept;

}  // namespace mp::runtime
