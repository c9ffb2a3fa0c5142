// Descriptors a forked child must hold only when it was given them. A fork copies every
// descriptor of the parent; for most that is harmless, but a descriptor whose holders the
// kernel counts for someone else (a Connection's liveness pipe: its peer sees a hang-up
// only when every holder closed it) would keep a child that never uses it counted as a
// holder for as long as the child lives.
#pragma once

#include <vector>

namespace mp::sys {

void register_fork_private_fd(int fd);
void unregister_fork_private_fd(int fd);
// True if any such descriptor is open now (so a fork must decide which to keep).
bool has_fork_private_fds() noexcept;

// In a child just forked: every registered descriptor not in `keep` is replaced by the
// read side of a pipe that has hung up. The number stays taken (whatever still refers to
// it in the child's copy of the parent's memory sees a closed peer, never another file),
// and the child no longer holds what it referred to.
void release_fork_private_fds_in_child(const std::vector<int>& keep) noexcept;

}  // namespace mp::sys
