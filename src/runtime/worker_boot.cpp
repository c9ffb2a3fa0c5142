#include "runtime/worker_boot.hpp"

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <tuple>

#include "mp/detail/codec.hpp"
#include "mp/detail/shared_block.hpp"
#include "process/child.hpp"
#include "process/current.hpp"
#include "sys/doorbell.hpp"
#include "sys/shared_memory.hpp"

namespace mp::runtime {
namespace {

using BootFields = std::tuple<int,                      // index
                              std::string,              // name
                              int,                      // maxtasksperchild
                              std::int64_t,             // spin, ns
                              std::uint64_t,            // memory_limit
                              std::int64_t,             // cpu_time_limit, s
                              int, std::uint8_t,        // inner_threads, forced (0 or 1)
                              int, int, int,            // region fds
                              int,                      // parent bell fd
                              std::vector<std::byte>>;  // encoded initializer

}  // namespace

std::vector<std::byte> encode_worker_boot(const WorkerConfig& config,
                                          const WorkerRegion::Fds& region, int parent_bell_fd,
                                          std::vector<int>& initializer_fds) {
  std::vector<std::byte> init;
  if (config.initializer != nullptr) {
    detail::FdCapture shared_objects;
    init = config.initializer->encoded();
    initializer_fds = shared_objects.fds();
  }
  const BootFields fields{config.index,
                          config.name,
                          config.maxtasksperchild,
                          config.spin.count(),
                          config.memory_limit,
                          config.cpu_time_limit.count(),
                          config.inner_threads,
                          static_cast<std::uint8_t>(config.inner_threads_forced ? 1 : 0),
                          region.shared,
                          region.task_large,
                          region.result_large,
                          parent_bell_fd,
                          std::move(init)};
  detail::VectorWriter w;
  detail::encode(w, fields);
  return {w.data(), w.data() + w.size()};
}

namespace {
const bool g_registered = process::register_child_role(kWorkerRole, &run_worker_role);
}  // namespace

WorkerBoot decode_worker_boot(const std::vector<std::byte>& blob) {
  BootFields fields;
  detail::Reader r(blob.data(), blob.size());
  detail::decode(r, fields);
  if (!r.at_end()) {
    throw std::runtime_error("mp: pool worker start-up data has bytes left over");
  }
  auto& [index, name, maxtasks, spin_ns, memory_limit, cpu_s, inner_threads, inner_forced, shared,
         task_large, result_large, bell_fd, init] = fields;
  if (index < 0 || maxtasks < 0 || spin_ns < 0 || cpu_s < 0 || inner_threads < 0 ||
      inner_forced > 1 || shared < 0 || task_large < 0 || result_large < 0 || bell_fd < 0) {
    throw std::runtime_error("mp: pool worker start-up data out of range");
  }
  WorkerBoot boot;
  boot.config.index = index;
  boot.config.name = std::move(name);
  boot.config.maxtasksperchild = maxtasks;
  boot.config.spin = std::chrono::nanoseconds(spin_ns);
  boot.config.memory_limit = static_cast<std::size_t>(memory_limit);
  boot.config.cpu_time_limit = std::chrono::seconds(cpu_s);
  boot.config.inner_threads = inner_threads;
  boot.config.inner_threads_forced = inner_forced == 1;
  boot.region = WorkerRegion::Fds{shared, task_large, result_large};
  boot.parent_bell_fd = bell_fd;
  boot.initializer = std::move(init);
  return boot;
}

void run_worker_role(const process::ChildBoot& boot) {
  process::die_with_parent(boot.parent);
  WorkerBoot decoded = decode_worker_boot(boot.blob);
  process::set_current_process_name(decoded.config.name);
  sys::SharedMemory bell_memory(sys::UniqueFd(decoded.parent_bell_fd), sizeof(sys::Doorbell));
  bell_memory.close_descriptor();
  auto* parent_bell = reinterpret_cast<sys::Doorbell*>(bell_memory.data());
  WorkerRegion region(decoded.region, parent_bell);
  const Initializer initializer = Initializer::from_encoded(std::move(decoded.initializer));
  WorkerConfig& config = decoded.config;
  config.initializer = &initializer;
  config.parent = boot.parent;
  run_worker(region, config);
}

}  // namespace mp::runtime
