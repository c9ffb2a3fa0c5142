// Names of POSIX shared memory this process created and has not unlinked: removed when
// the process exits normally (std::exit, a return from main, or an mp child's exit), and
// by a tracker process when it ends any other way (a signal), as Python's resource
// tracker removes them. A forked child inherits the list but not the names: only their
// creator (or its tracker) removes them.
#pragma once

#include <string>

namespace mp::sys {

void remember_shm_name(const std::string& name);
void forget_shm_name(const std::string& name);
// Unlinks every name this process created and still holds (only in the creating process).
void unlink_shm_names_created_here() noexcept;

}  // namespace mp::sys
