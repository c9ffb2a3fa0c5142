// What an mp::Process started by the fork server or spawn is sent: its name, whether it
// is a daemon, the descriptor of its exit-report pipe and its encoded target.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace mp::process {

struct ProcessBoot {
  std::string name;
  bool daemon = false;
  int report_fd = -1;
  std::vector<std::byte> target;  // a detail::BoundCall, encoded
};

std::vector<std::byte> encode_process_boot(const ProcessBoot& boot);
// Throws std::runtime_error (or the codec's error) if the blob is malformed: truncated,
// with bytes left over, or with values no parent sends.
ProcessBoot decode_process_boot(const std::vector<std::byte>& blob);

}  // namespace mp::process
