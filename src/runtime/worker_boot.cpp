#include "runtime/worker_boot.hpp"

#include <chrono>
#include <cstdint>
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
  const BootFields fields{config.index,        config.name,         config.maxtasksperchild,
                          config.spin.count(), config.memory_limit, config.cpu_time_limit.count(),
                          region.shared,       region.task_large,   region.result_large,
                          parent_bell_fd,      std::move(init)};
  detail::VectorWriter w;
  detail::encode(w, fields);
  return {w.data(), w.data() + w.size()};
}

namespace {
const bool g_registered = process::register_child_role(kWorkerRole, &run_worker_role);
}  // namespace

void run_worker_role(const process::ChildBoot& boot) {
  process::die_with_parent(boot.parent);
  BootFields fields;
  detail::Reader r(boot.blob.data(), boot.blob.size());
  detail::decode(r, fields);
  auto& [index, name, maxtasks, spin_ns, memory_limit, cpu_s, shared, task_large, result_large,
         bell_fd, init] = fields;
  process::set_current_process_name(name);
  sys::SharedMemory bell_memory(sys::UniqueFd(bell_fd), sizeof(sys::Doorbell));
  bell_memory.close_descriptor();
  auto* parent_bell = reinterpret_cast<sys::Doorbell*>(bell_memory.data());
  WorkerRegion region(WorkerRegion::Fds{shared, task_large, result_large}, parent_bell);
  const Initializer initializer = Initializer::from_encoded(std::move(init));
  WorkerConfig config;
  config.index = index;
  config.name = name;
  config.initializer = &initializer;
  config.maxtasksperchild = maxtasks;
  config.spin = std::chrono::nanoseconds(spin_ns);
  config.parent = boot.parent;
  config.memory_limit = static_cast<std::size_t>(memory_limit);
  config.cpu_time_limit = std::chrono::seconds(cpu_s);
  run_worker(region, config);
}

}  // namespace mp::runtime
