// The type-erased pool engine the Pool templates talk to. A Job is one call (map, imap,
// apply...): it encodes its arguments chunk by chunk and decodes the results; the engine
// sends chunks to workers, routes results and failures back, and runs the waiting loop.
// Every member of PoolCore may be called from any thread. Not part of the public API.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "mp/detail/bytes.hpp"
#include "mp/pool_options.hpp"

namespace mp::detail {

struct ChunkRef {
  std::uint64_t first = 0;  // index of the chunk's first item in the call's input
  std::uint32_t count = 0;
};

class Job {
 public:
  virtual ~Job() = default;
  // True if encode_next may produce a chunk now.
  virtual bool can_send() const = 0;
  // Encodes the next chunk into `out`, merging up to `batch` of the caller's chunks into
  // one; returns false (writing nothing) if the input is exhausted. An exception from the
  // input propagates; the engine gives it to fail_input.
  virtual bool encode_next(Writer& out, ChunkRef& chunk, std::size_t batch) = 0;
  // Decodes a chunk's results; `pid` ran it (for the errors of arguments that threw).
  virtual void decode_chunk(const ChunkRef& chunk, Reader& in, pid_t pid) = 0;
  // A result of the chunk being run carries a block of `bytes`: storage for it may be
  // made ready now, while the worker writes it.
  virtual void prepare_result(std::size_t /*bytes*/) {}
  // The caller's chunksize (the batch unit).
  virtual std::size_t chunksize() const = 0;
  // A chunk failed: its task threw or its worker died. By default the whole job fails
  // with the first such error; imap records it at the chunk's position instead.
  virtual void fail_chunk(const ChunkRef& /*chunk*/, std::exception_ptr error) {
    if (!error_) {
      error_ = std::move(error);
    }
  }
  // The input threw: nothing more is sent. By default the whole job fails with the
  // error; imap raises it after the results of what was sent before.
  virtual void fail_input(std::exception_ptr error) {
    if (!error_) {
      error_ = std::move(error);
    }
  }

  // Whether the call has finished (every result in, or failed). Safe from any thread; once
  // true, error_ and the results may be read without the engine's lock.
  bool done() const noexcept { return finished_.load(std::memory_order_acquire); }

  // The rest is the engine's, under its lock.
  //
  // Marks the job finished if it is; returns true the first time it does.
  bool settle() noexcept {
    if (finished_.load(std::memory_order_relaxed) ||
        (error_ == nullptr && !(exhausted_ && in_flight_ == 0))) {
      return false;
    }
    finished_.store(true, std::memory_order_release);
    return true;
  }
  // Runs once the job has finished, on the thread that finished it, without the engine's
  // lock (a callback may call the pool again). Set before submit; must not throw.
  bool has_completion() const noexcept { return static_cast<bool>(completion_); }
  void complete() noexcept { completion_(); }
  std::function<void()> completion_;
  // Called once, under the engine's lock, before the job's first chunk is sent; false
  // withdraws the job (its future was cancelled) and it fails with CancelledError.
  std::function<bool()> start_;

  std::exception_ptr error_;
  bool exhausted_ = false;  // the input has no more chunks
  std::uint64_t in_flight_ = 0;
  double item_ns_ = 0;  // moving average of one argument's run time in a worker
  // The pool's task_timeout when the call was submitted (0: none).
  std::chrono::nanoseconds task_timeout_{0};
  // Arguments whose results (or errors) are in, read by progress displays on any thread;
  // and all of them, 0 while not known.
  std::atomic<std::uint64_t> items_done_{0};
  std::uint64_t items_total_ = 0;

 private:
  std::atomic<bool> finished_{false};
};

// A condition the engine re-tests while it waits.
struct WaitCondition {
  bool (*test)(const void*);
  const void* ctx;
  bool operator()() const { return test(ctx); }
};

template <class Pred>
WaitCondition make_condition(const Pred& p) {
  return {[](const void* c) { return (*static_cast<const Pred*>(c))(); }, &p};
}

class PoolCore {
 public:
  using Clock = std::chrono::steady_clock;
  static std::shared_ptr<PoolCore> create(PoolOptions options);
  virtual ~PoolCore() = default;

  virtual int processes() const = 0;
  virtual std::vector<pid_t> pids() const = 0;
  // Queues the job and starts sending it. Throws std::logic_error unless the pool is
  // running, and the job's own input errors.
  virtual void submit(std::shared_ptr<Job> job) = 0;
  // Runs the pool until `done()` or the deadline; returns done(). `done` is tested under
  // the engine's lock.
  virtual bool wait(WaitCondition done, Clock::time_point deadline) = 0;
  // The engine's lock: held to read what the engine writes (an imap's ready results).
  virtual std::unique_lock<std::mutex> lock() = 0;
  // The caller gave the results up (an imap iterator destroyed before its end): nothing
  // more is read from the job's input; results of tasks already sent are dropped.
  virtual void abandon(const std::shared_ptr<Job>& job) = 0;
  virtual void close() = 0;
  // Returns false if the deadline passed first (join may be called again).
  virtual bool join(Clock::time_point deadline) = 0;
  virtual void terminate() = 0;
  // The task_timeout given to calls submitted from now on; throws std::invalid_argument
  // if negative.
  virtual void set_task_timeout(std::chrono::nanoseconds timeout) = 0;
  virtual std::chrono::nanoseconds task_timeout() const = 0;
};

[[noreturn]] void throw_invalid_chunksize(long long chunksize);
[[noreturn]] void throw_timeout(const char* what);
[[noreturn]] void throw_pool_gone();
// Reports on stderr an exception a callback threw (a result callback, a future's
// done-callback): it is not the task's, and nobody waits to catch it.
void report_callback_error(std::exception_ptr error) noexcept;

}  // namespace mp::detail
