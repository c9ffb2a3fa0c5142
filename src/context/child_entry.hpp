// Where a process that mp started by exec (a spawned worker, the fork server) turns into
// what it was started for: mp::init, or the first Pool the program creates.
#pragma once

namespace mp::context {

// Plays this process's role and never returns if mp started it by exec; else returns.
void become_child_if_started_by_mp();

}  // namespace mp::context
