#pragma once

#include <string>

namespace mp::process {
// Sets what mp::current_process().name() returns in this process.
void set_current_process_name(std::string name);
}  // namespace mp::process
