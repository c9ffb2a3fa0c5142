// The messages between the fork server and its caller (fork_server.cpp), apart so that
// the server's check of a request can be fuzzed.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mp::process {

// Descriptors one launch hands over: a worker's own, plus those of the shared objects its
// initializer or target holds (SCM_RIGHTS carries at most 253).
constexpr std::size_t kMaxFds = 128;

enum : std::uint32_t { kLaunch = 1, kStarted = 2, kExited = 3 };

struct LaunchRequest {
  std::uint32_t kind = kLaunch;
  std::uint32_t nfds = 0;  // fds sent; the last is the blob
  std::uint32_t die_with_caller = 1;
  std::int32_t targets[kMaxFds] = {};
  char role[32] = {};
};

struct Reply {
  std::uint32_t kind = 0;
  std::int32_t pid = 0;
  std::int32_t value = 0;  // kStarted: errno of a failed fork (0: started); kExited: status
};

// A request as the server received it (`bytes` of it, with `fds` descriptors attached) is
// one it may act on: a launch, with as many descriptors as it says, at most kMaxFds, the
// last being the blob; target numbers that are valid descriptor numbers; a role name
// that ends within its field.
bool is_well_formed(const LaunchRequest& req, std::size_t bytes, std::size_t fds) noexcept;

}  // namespace mp::process
