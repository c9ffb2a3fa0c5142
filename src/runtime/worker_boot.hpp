// A pool worker started by the fork server or by spawn: it shares none of the pool's
// objects, so its configuration, the pool's initializer and the numbers of the fds of
// its shared memory travel in the start-up blob.
#pragma once

#include <cstddef>
#include <vector>

#include "process/launcher.hpp"
#include "runtime/worker_loop.hpp"
#include "runtime/worker_region.hpp"

namespace mp::runtime {

inline constexpr const char* kWorkerRole = "pool-worker";

// The blob for a worker of `config` (whose initializer must be sendable, or empty) over
// `region`, waking the parent through the Doorbell in the memfd `parent_bell_fd`. The
// descriptors of the shared objects among the initializer's arguments are added to
// `initializer_fds`, for the launcher to hand over.
std::vector<std::byte> encode_worker_boot(const WorkerConfig& config,
                                          const WorkerRegion::Fds& region, int parent_bell_fd,
                                          std::vector<int>& initializer_fds);

// What the blob tells a worker.
struct WorkerBoot {
  WorkerConfig config;  // without its initializer and parent
  WorkerRegion::Fds region;
  int parent_bell_fd = -1;
  std::vector<std::byte> initializer;  // encoded; empty: none
};
// Decodes a blob of encode_worker_boot. Throws std::runtime_error (or the codec's error)
// if it is malformed: truncated, with bytes left over, or with values no pool sends.
WorkerBoot decode_worker_boot(const std::vector<std::byte>& blob);

// The "pool-worker" role: decodes the blob, maps the shared memory and runs the worker.
[[noreturn]] void run_worker_role(const process::ChildBoot& boot);

}  // namespace mp::runtime
