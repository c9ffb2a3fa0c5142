// Decoding an error a worker encoded with detail::encode_task_error.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <exception>

#include "mp/detail/bytes.hpp"

namespace mp::serial {

// The exception to raise in the caller: mp::RemoteError, or the standard exception type
// the task threw with the RemoteError nested in it. `first_index` is the task index of
// the chunk's first item.
std::exception_ptr decode_task_error(detail::Reader& in, pid_t pid, std::uint64_t first_index);

}  // namespace mp::serial
