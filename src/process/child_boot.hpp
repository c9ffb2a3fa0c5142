// Shared by the launchers (spawn, fork server) and the child's entry: how the blob and
// the role travel, and how a child turns into its role.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "process/launcher.hpp"
#include "sys/unique_fd.hpp"

namespace mp::process {

// The environment variable that tells an exec'd program it is a child of mp:
// "ROLE:BLOB_FD:PARENT_PID".
inline constexpr const char* kChildEnv = "MP_CHILD";

// What kChildEnv says: the role to play, the descriptor of the start-up blob, and the
// process that started this one. Empty if the value is malformed (a part missing, a
// number that is not one whole number in range).
struct ChildRequest {
  std::string role;
  int blob_fd = -1;
  pid_t parent = 0;
};
std::optional<ChildRequest> parse_child_request(std::string_view value);

// A sealed memfd holding `blob`, for the child to read (blobs can be large: an
// initializer's arguments travel in them).
sys::UniqueFd make_blob_fd(const std::vector<std::byte>& blob);
std::vector<std::byte> read_blob_fd(int fd);

// The role registered under `name`, or nullptr.
ChildRole find_child_role(std::string_view name) noexcept;
// Runs `role` in this child and exits; a failure to play it is reported on stderr.
[[noreturn]] void run_child_role(std::string_view name, ChildBoot& boot);

}  // namespace mp::process
