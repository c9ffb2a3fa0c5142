// mp: process-based parallelism for C++ in the shape of Python's multiprocessing.
#pragma once

#include "mp/context.hpp"            // get_context, Context
#include "mp/errors.hpp"             // Error, RemoteError, WorkerCrashed, TimeoutError, BrokenPool
#include "mp/executor.hpp"           // ProcessPoolExecutor, ThreadPoolExecutor, MapOptions
#include "mp/future.hpp"             // Future, as_completed, wait, ReturnWhen
#include "mp/initializer.hpp"        // Initializer, bind_initializer
#include "mp/memory.hpp"             // Memory: a disk cache of function results
#include "mp/parallel.hpp"           // Parallel, delayed: joblib's front end
#include "mp/pipe.hpp"               // Pipe, Connection
#include "mp/pool.hpp"               // Pool, PoolOptions, AsyncResult, ImapResult
#include "mp/process.hpp"            // Process, current_process, cpu_count
#include "mp/progress.hpp"           // Progress, ProgressInfo: bars, log lines, callbacks
#include "mp/queue.hpp"              // Queue, JoinableQueue, SimpleQueue
#include "mp/random.hpp"             // Random: independent streams per task
#include "mp/serialize.hpp"          // what crosses a process boundary
#include "mp/shared.hpp"             // Value, Array, RawValue, RawArray
#include "mp/shared_containers.hpp"  // SharedDict, SharedList: Manager().dict()/list()
#include "mp/shared_memory.hpp"      // SharedMemory: named blocks other programs open
#include "mp/start_method.hpp"       // StartMethod, init
#include "mp/sync.hpp"               // Lock, RLock, Semaphore, Event, Condition, Barrier...
#include "mp/thread_pool.hpp"        // ThreadPool: the Pool API on threads
#include "mp/version.hpp"            // MP_VERSION
