// The type-erased pool engine the Pool templates talk to. A Job is one call (map, imap,
// apply...): it encodes its arguments chunk by chunk and decodes the results; the engine
// sends chunks to workers, routes results and failures back, and runs the waiting loop.
// Not part of the public API.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
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
  // input propagates and fails the job.
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

  bool done() const noexcept { return error_ != nullptr || (exhausted_ && in_flight_ == 0); }

  std::exception_ptr error_;
  bool exhausted_ = false;  // the input has no more chunks
  std::uint64_t in_flight_ = 0;
  double item_ns_ = 0;  // moving average of one argument's run time in a worker
  // The pool's task_timeout when the call was submitted (0: none).
  std::chrono::nanoseconds task_timeout_{0};
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
  // Runs the pool until `done()` or the deadline; returns done().
  virtual bool wait(WaitCondition done, Clock::time_point deadline) = 0;
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

}  // namespace mp::detail
