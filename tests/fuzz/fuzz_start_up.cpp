// Fuzzes what a child reads at start-up from the process that starts it: a pool worker's
// start-up blob (spawn and forkserver), an mp::Process's start-up blob, the launch request
// the fork server checks before it forks, and the MP_CHILD value a spawned child parses.
// The first byte picks which. A malformed blob must be a clear exception; a malformed
// request or value must be refused.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <vector>

#include "fuzz_support.hpp"
#include "process/child_boot.hpp"
#include "process/fork_server_protocol.hpp"
#include "process/process_boot.hpp"
#include "runtime/worker_boot.hpp"

namespace {

void decode_boot(const std::byte* p, std::size_t n) {
  try {
    const mp::runtime::WorkerBoot boot = mp::runtime::decode_worker_boot({p, p + n});
    (void)boot;
  } catch (const std::exception&) {
  }
}

void decode_process_boot(const std::byte* p, std::size_t n) {
  try {
    const mp::process::ProcessBoot boot = mp::process::decode_process_boot({p, p + n});
    if (boot.report_fd < 0) {
      __builtin_trap();  // accepted what it must refuse
    }
  } catch (const std::exception&) {
  }
}

void check_request(const std::byte* p, std::size_t n) {
  mp::process::LaunchRequest req;
  std::memcpy(&req, p, std::min(n, sizeof req));
  const std::size_t fds = n > 0 ? static_cast<std::size_t>(p[0]) : 0;
  (void)mp::process::is_well_formed(req, n, fds);
}

void parse_request(const std::byte* p, std::size_t n) {
  const auto request = mp::process::parse_child_request({reinterpret_cast<const char*>(p), n});
  if (request && (request->blob_fd < 0 || request->parent <= 0 || request->role.empty())) {
    __builtin_trap();  // accepted what it must refuse
  }
}

std::vector<std::byte> selected(std::uint8_t selector, const std::byte* p, std::size_t n) {
  std::vector<std::byte> out{static_cast<std::byte>(selector)};
  out.insert(out.end(), p, p + n);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  mp::runtime::WorkerConfig config;
  config.index = 1;
  config.name = "PoolWorker-2";
  config.maxtasksperchild = 100;
  config.spin = std::chrono::microseconds(50);
  std::vector<int> initializer_fds;
  const std::vector<std::byte> blob =
      mp::runtime::encode_worker_boot(config, {5, 6, 7}, 8, initializer_fds);
  mp::fuzz::write_seed("worker-boot", selected(0, blob.data(), blob.size()));
  mp::process::LaunchRequest req;
  req.nfds = 3;
  req.targets[0] = 5;
  req.targets[1] = 6;
  std::memcpy(req.role, "pool-worker", 11);
  mp::fuzz::write_seed("launch-request",
                       selected(1, reinterpret_cast<const std::byte*>(&req), sizeof req));
  const std::vector<std::byte> process_blob = mp::process::encode_process_boot(
      {"Process-3", true, 9, std::vector<std::byte>(24, std::byte{7})});
  mp::fuzz::write_seed("process-boot", selected(3, process_blob.data(), process_blob.size()));
  const char child[] = "pool-worker:5:1234";
  mp::fuzz::write_seed("child-request",
                       selected(2, reinterpret_cast<const std::byte*>(child), sizeof child - 1));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const auto* p = reinterpret_cast<const std::byte*>(data) + 1;
  switch (data[0] % 4) {
    case 0:
      decode_boot(p, size - 1);
      break;
    case 1:
      check_request(p, size - 1);
      break;
    case 2:
      parse_request(p, size - 1);
      break;
    default:
      decode_process_boot(p, size - 1);
      break;
  }
  return 0;
}
