// The C++ peers mp is measured against in the same run: OpenMP and oneTBB (when the
// build found them), a minimal thread pool, std::async, and the floor of any
// cross-process round trip (two processes ping-ponging through shared memory).
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

namespace mp_bench::peers {

// ---- OpenMP (peer_openmp.cpp) -------------------------------------------------------------
bool have_openmp();
// Starts the OpenMP team of `workers` threads (the first parallel region pays for it).
void openmp_warm(int workers);
// Ends the team's threads (omp_pause_resource_all) with libgomp: they live on otherwise.
void openmp_release_threads();
// The pi loop: `workers` blocks, one per thread, each estimate_circle on its own stream
// (the same blocks and streams as the mp and thread variants, so the same answer).
std::uint64_t openmp_pi(std::uint64_t samples, int workers);
// Primes in 1..limit, check_prime per number, schedule(dynamic).
std::uint64_t openmp_primes(std::uint32_t limit, int workers);
// add_one over 0..n-1 with schedule(dynamic, 1); the sum of the results.
long long openmp_trivial(int n, int workers);
// What pool.map(add_one, items) does, with threads: a fresh output vector, filled with
// add_one of each item under schedule(static). The memory floor of that map.
std::vector<int> openmp_map_static(const std::vector<int>& items, int workers);

// ---- oneTBB (peer_tbb.cpp) ------------------------------------------------------------------
bool have_tbb();

// Round trips of a trivial task (add_one), one at a time: seconds per round trip, and
// whether every result was right.
struct RoundTrips {
  double seconds = 0;
  bool ok = false;
};
// tbb::task_group run + wait in an arena of `workers` threads; TBB's worker threads are
// ended afterwards (they live on otherwise).
RoundTrips tbb_task_group(int n, int workers);

// ---- threads (peer_threads.cpp) -----------------------------------------------------------
// A mutex + condition-variable pool of `workers` threads: submit, then future.get().
RoundTrips thread_pool(int n, int workers);
// std::async(std::launch::async, ...).get(): a new thread per call.
RoundTrips std_async(int n);

// ---- the cross-process floor (peer_futex.cpp) ---------------------------------------------
// Two processes (this one and a forked child) ping-pong a counter through a shared
// anonymous mapping; each side spins for `spin`, then sleeps on a non-private futex, and
// the other side makes the wake syscall only if it sleeps (mp's own doorbell scheme).
RoundTrips futex_ping_pong(int n, std::chrono::nanoseconds spin);

// ---- a raw pipe (peer_pipe.cpp) ------------------------------------------------------------
// An 8-byte integer to a forked child and back (plus one) through two pipes: read() and
// write() only, the kernel's own way between two processes.
RoundTrips pipe_ping_pong(int n);
// The same trip through two Boost.Interprocess message_queues.
RoundTrips boost_mq_ping_pong(int n);

// ---- the start-up floor (peer_fork.cpp) ----------------------------------------------------
// fork `children` children that _exit(0) at once, then waitpid each: the seconds it took
// (one run), and whether every child exited 0.
RoundTrips fork_wait(int children);

}  // namespace mp_bench::peers
