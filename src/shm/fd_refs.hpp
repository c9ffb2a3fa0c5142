// How a shared object's descriptor is written into a message and had back on the other
// side (include/mp/detail/shared_block.hpp explains the ways it travels).
#pragma once

#include <optional>
#include <vector>

#include "mp/detail/shared_block.hpp"
#include "sys/fork_private_fds.hpp"
#include "sys/unique_fd.hpp"

namespace mp::shm {

// The origin of a file this process has just created as `fd`.
detail::SharedFdRef origin_of_new(int fd);
// The reference to write for `fd`, a file that came from `origin` (origin_of_new, or the
// reference it was received by); records it in the thread's active FdCapture.
detail::SharedFdRef make_ref(int fd, const detail::SharedFdRef& origin);
// This process's own descriptor for the file `ref` names. Throws mp::SerializationError
// if it cannot be had (both its sender and its creator let it go, or run as another user).
sys::UniqueFd open_ref(const detail::SharedFdRef& ref);

// The fork-private descriptors (sys/fork_private_fds.hpp) a child forked to run `call`
// (nullptr: nothing) must keep: those of the shared objects in it. nullopt, keep them all,
// when none is open, or when `call` cannot be encoded and what it uses is unknown.
template <class Call>
std::optional<std::vector<int>> fds_to_keep_in_fork(const Call* call) {
  if (!sys::has_fork_private_fds()) {
    return std::nullopt;
  }
  if (call == nullptr) {
    return std::vector<int>{};
  }
  if (!call->sendable()) {
    return std::nullopt;
  }
  try {
    detail::FdCapture shared_objects;
    (void)call->encoded();
    return shared_objects.fds();
  } catch (...) {
    return std::nullopt;  // its error, if it has one, is for the child to meet
  }
}

}  // namespace mp::shm
