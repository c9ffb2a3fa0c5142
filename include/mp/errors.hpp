// The exceptions mp throws. All derive from mp::Error, itself a std::runtime_error, except
// mp::Interrupted (a signal, not a failure).
//
// Misuse (a chunksize of 0, calling map on a closed pool) is std::invalid_argument or
// std::logic_error at the call instead, and failed system calls are std::system_error
// naming the call.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace mp {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A task threw in a worker. Carries the original exception's type name and message, the
// worker's pid and the task's index (its position in the input of map/imap/starmap, 0 for
// apply). When the original was a standard exception (std::invalid_argument,
// std::out_of_range, ...), the pool throws that type instead, with this RemoteError
// nested in it: catch (const std::invalid_argument& e) works as for a local call, and
// std::rethrow_if_nested(e) recovers the pid and index.
class RemoteError : public Error {
 public:
  RemoteError(std::string type, std::string message, pid_t pid, std::uint64_t task_index);
  const std::string& type() const noexcept { return type_; }
  const std::string& message() const noexcept { return message_; }
  pid_t pid() const noexcept { return pid_; }
  std::uint64_t task_index() const noexcept { return task_index_; }

 private:
  std::string type_;
  std::string message_;
  pid_t pid_;
  std::uint64_t task_index_;
};

// Why a worker died, as far as mp can tell.
enum class CrashCause {
  died,            // a signal or an exit: see WorkerCrashed::signal() and exitcode()
  memory_limit,    // an allocation failed under PoolOptions::memory_limit
  cpu_time_limit,  // the task used up PoolOptions::cpu_time_limit (SIGXCPU)
};

// The worker running a task died (a signal such as SIGSEGV or SIGKILL, or an exit
// without answering). The other tasks of the call are not affected; the pool starts a
// replacement worker.
class WorkerCrashed : public Error {
 public:
  WorkerCrashed(pid_t pid, int wait_status, std::uint64_t task_index,
                CrashCause cause = CrashCause::died);
  pid_t pid() const noexcept { return pid_; }
  // The signal that killed the worker, or 0 if it exited.
  int signal() const noexcept { return signal_; }
  // The worker's exit status if it exited, or -signal as Python's exitcode.
  int exitcode() const noexcept { return exitcode_; }
  std::uint64_t task_index() const noexcept { return task_index_; }
  CrashCause cause() const noexcept { return cause_; }

 private:
  pid_t pid_;
  int signal_;
  int exitcode_;
  std::uint64_t task_index_;
  CrashCause cause_;
};

// A wait with a timeout ran out (AsyncResult::get with a timeout, for example).
class TimeoutError : public Error {
 public:
  using Error::Error;
};

// SIGINT (Ctrl-C) or SIGTERM arrived while the caller was blocked in mp (Pool::map,
// AsyncResult::get, Pool::join, Process::join...). A pool interrupted this way has been
// terminated: its workers are stopped and its other pending results fail with
// mp::BrokenPool. Only signals left at their default action are turned into this
// exception; an application's own handlers are not touched.
//
// Not an mp::Error, as Python's KeyboardInterrupt is not an Exception: code that catches
// mp::Error to handle a task's failure does not swallow a Ctrl-C by accident.
class Interrupted : public std::runtime_error {
 public:
  // `context` says what was interrupted and what was done about it.
  Interrupted(int signal, const std::string& context);
  // SIGINT or SIGTERM.
  int signal() const noexcept { return signal_; }

 private:
  int signal_;
};

// The pool cannot run tasks any more: it was terminated, its initializer failed, or a
// worker could not be started. Every pending result fails with it.
class BrokenPool : public Error {
 public:
  using Error::Error;
};

// A Future's task was cancelled before it started (Future::cancel, or an executor's
// shutdown with cancel_futures); its result() and exception() throw this.
class CancelledError : public Error {
 public:
  using Error::Error;
};

// Bytes that should have held a task or a result could not be decoded.
class SerializationError : public Error {
 public:
  using Error::Error;
};

// A shared lock was acquired from a thread that died holding it (its process was killed,
// or it exited in the critical section). The caller now holds the lock: the data it
// guards may be half-updated, so repair or re-check it, then release the lock.
class OwnerDied : public Error {
 public:
  using Error::Error;
};

// A Barrier was broken: a waiter timed out, abort() or reset() was called, or a process
// known to take part died before arriving. Every wait fails until reset().
class BrokenBarrierError : public Error {
 public:
  using Error::Error;
};

// Queue::put_nowait (or put with a timeout) found the queue full (Python's queue.Full).
class Full : public Error {
 public:
  using Error::Error;
};

// Queue::get_nowait (or get with a timeout) found the queue empty (Python's queue.Empty).
class Empty : public Error {
 public:
  using Error::Error;
};

// A Connection's peer is gone: every copy of the other end was closed (its processes
// exited or were killed) and nothing is left to receive (Python's EOFError).
class EOFError : public Error {
 public:
  using Error::Error;
};

// Connection::send found every copy of the other end closed: nobody can receive what it
// would send (Python's BrokenPipeError).
class BrokenPipeError : public Error {
 public:
  using Error::Error;
};

// mp::Memory's directory or database cannot be used: it cannot be created, or a file
// there is not a cache.
class CacheError : public Error {
 public:
  using Error::Error;
};

}  // namespace mp
