// Configuration of an mp::Pool, with Python's names.
#pragma once

#include <chrono>
#include <cstddef>

#include "mp/initializer.hpp"   // Initializer, bind_initializer
#include "mp/start_method.hpp"  // StartMethod

namespace mp {

// PoolOptions::inner_max_num_threads: cores / processes (at least one) for each worker.
inline constexpr int kInnerThreadsAuto = -1;

struct PoolOptions {
  // Number of worker processes; 0 means mp::cpu_count() (Python's None; Python raises
  // ValueError for 0, mp takes it as "the default" so that a zeroed options struct works).
  // Negative: std::invalid_argument.
  int processes = 0;
  // How workers are started (include/mp/start_method.hpp): fork by default.
  StartMethod start_method = StartMethod::fork;
  // Runs once in every worker before its first task (Python's initializer + initargs:
  // bind the arguments, e.g. mp::bind_initializer(f, args...)). If it throws, the pool
  // is broken: the call waiting for results throws mp::BrokenPool with the message.
  // With forkserver or spawn it must be sendable (include/mp/initializer.hpp).
  Initializer initializer;
  // A worker exits and is replaced after this many tasks (chunks); 0 means never (Python's
  // None; Python raises ValueError for 0). Negative: std::invalid_argument.
  int maxtasksperchild = 0;
  // A call of the function on one argument still running after this long is stopped:
  // its worker is killed and replaced, that argument fails with mp::TimeoutError, and the
  // rest of its chunk runs in the replacement. Checked while the caller is inside a Pool
  // call, to within a tenth of the timeout (at least 1 ms); while the caller is away, the
  // worker stops itself a tenth later, and the error and the replacement come with the
  // caller's next Pool call. Zero: no limit. Pool::set_task_timeout changes it per call.
  std::chrono::nanoseconds task_timeout{0};
  // A task whose worker dies (a signal, an exit, a resource limit) runs again, whole, in
  // the replacement worker, up to this many times before it fails with
  // mp::WorkerCrashed. For crashes that come and go (a flaky library, memory pressure);
  // a task stopped by task_timeout is not retried.
  int crash_retries = 0;
  // Resource limits of each worker; a worker that exceeds one dies and is replaced, and
  // its task fails with mp::WorkerCrashed whose cause() says which limit it hit.
  //
  // memory_limit: bytes of address space a worker may map beyond what it inherits from
  // the parent at start (RLIMIT_AS), 0 for none. An allocation that fails under it ends
  // the worker (CrashCause::memory_limit) instead of throwing std::bad_alloc into a
  // process whose heap may be half-updated. Not usable under AddressSanitizer, which
  // reserves terabytes of address space.
  std::size_t memory_limit = 0;
  // cpu_time_limit: CPU time one chunk may use, in whole seconds, 0 for none
  // (RLIMIT_CPU, moved before each task; enforced to within a second). Unlike
  // task_timeout it does not count time spent sleeping or waiting.
  std::chrono::seconds cpu_time_limit{0};
  // Merge consecutive small chunks into one message (joblib's auto batching) when their
  // measured run time is far below the cost of a message. Chunks still succeed and fail
  // one argument at a time; only the number of messages changes. Not done with
  // maxtasksperchild or cpu_time_limit, which count and limit whole chunks.
  //
  // When a worker dies inside one argument, that argument fails with mp::WorkerCrashed
  // and a replacement runs the rest of its message again, skipping it: arguments of the
  // same message that had already run (before the crash) run a second time. For tasks
  // with side effects that must not repeat, use chunksize 1 and auto_batch = false.
  bool auto_batch = true;
  // How long a waiting worker or parent spins before it sleeps. Spinning turns a 50 us
  // wake-up into a sub-microsecond hand-off while tasks keep coming, and costs an idle
  // pool nothing once it has elapsed. See BENCHMARKS.md (apply round trip, idle CPU).
  std::chrono::microseconds spin{50};
  // Threads each worker lets the parallel libraries its tasks call use (OpenMP, OpenBLAS,
  // MKL, BLIS, numexpr-like ones that read the same variables), so that N workers each
  // running an OpenMP loop do not start N x cores threads. 0 leaves them alone
  // (multiprocessing's behaviour); kInnerThreadsAuto gives each worker cores / processes,
  // at least one (joblib's, and mp::Parallel's default); N > 0 gives each exactly N.
  // Each worker sets OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS,
  // BLIS_NUM_THREADS, VECLIB_MAXIMUM_THREADS and NUMEXPR_NUM_THREADS (with auto, only
  // those the environment does not set already), and calls the runtime setters of the
  // libraries already loaded (omp_set_num_threads, openblas_set_num_threads, ...). oneTBB
  // reads none of these: bound it in an initializer with
  // tbb::global_control(tbb::global_control::max_allowed_parallelism, n). Less than
  // kInnerThreadsAuto: std::invalid_argument.
  int inner_max_num_threads = 0;
};

}  // namespace mp
