// How a shared object's descriptor is written into a message and had back on the other
// side (include/mp/detail/shared_block.hpp explains the ways it travels).
#pragma once

#include "mp/detail/shared_block.hpp"
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

}  // namespace mp::shm
