// --json FILE: every measurement of the run as a JSON array of objects, in the order
// they were taken: the fields of Record (bench.hpp), which scripts rely on.
#pragma once

#include <string>
#include <vector>

#include "bench.hpp"

namespace mp_bench {

// The records as JSON text, one object per line.
std::string to_json(const std::vector<Record>& records);
// Writes to_json(records) to `path`; false (after a message) if it cannot.
bool write_json(const std::string& path, const std::vector<Record>& records);

}  // namespace mp_bench
