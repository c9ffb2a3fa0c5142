// How worker processes are started (Python's start methods), and mp::init, which a
// program that uses the forkserver or spawn method calls first in main.
//
//   int main(int argc, char** argv) {
//     mp::init(argc, argv);  // a worker started by exec becomes a worker here
//     mp::PoolOptions o;
//     o.start_method = mp::StartMethod::forkserver;
//     mp::Pool pool(o);
//   }
//
// - fork (the default): a worker is a fork of the caller. It sees the caller's memory as
//   it was at that moment, so read-only data costs nothing to share, and starting is
//   cheapest. A fork copies only the calling thread: when the caller has other threads,
//   a lock one of them holds stays locked forever in the child. A caller with threads of
//   its own is forked all the same, as Python does, and stderr says so once (see
//   docs/decisions/0005 and 0006); mp's own threads do not count.
// - forkserver: a small single-threaded server process, started by exec of the program
//   the first time it is needed, forks the workers. Safe whatever threads the caller has,
//   and starting a worker does not depend on how much memory the caller uses. Workers
//   see the program as it was when mp::init returned, not the caller's later state.
// - spawn: each worker is a fresh exec of the program (posix_spawn, which is safe from a
//   threaded caller). The slowest to start; nothing at all is inherited.
//
// With forkserver and spawn the program runs again from the start in the new process,
// like Python's spawn re-imports the main module: mp::init(argc, argv) as the first line
// of main is where that process turns into a worker or a fork server, before main does
// anything else. Without it, the first Pool or Process::start of main does it, after
// whatever main did before (tests/programs/spawn_without_init.cpp). Everything a worker
// needs (the task's function and arguments, the pool's initializer) travels through
// shared memory, so the rules for what can be sent are the same for every method
// (include/mp/initializer.hpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mp {

enum class StartMethod { fork, forkserver, spawn };

// "fork", "forkserver", "spawn".
std::string_view to_string(StartMethod method) noexcept;
// The method named `name`; throws std::invalid_argument for another name.
StartMethod start_method_from_name(std::string_view name);

// Call first in main. In a process that mp started by exec (a spawned worker or the fork
// server) it does that process's work and never returns; otherwise it returns at once.
void init(int argc, char** argv);

}  // namespace mp
