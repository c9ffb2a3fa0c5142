#include "runtime/worker_region.hpp"

#include <new>

namespace mp::runtime {
namespace {
constexpr std::size_t kControlBytes = 4096;
static_assert(sizeof(WorkerControl) <= kControlBytes);
}  // namespace

WorkerRegion::WorkerRegion(sys::Doorbell* parent_bell)
    : shared_("mp-worker", kControlBytes + 2 * transport::kRingBytes),
      task_large_("mp-worker-tasks-large", transport::large_buffer_size(),
                  transport::kLargeReserve),
      result_large_("mp-worker-results-large", transport::large_buffer_size(),
                    transport::kLargeReserve),
      parent_bell_(parent_bell) {
  new (shared_.data()) WorkerControl{};
}

WorkerRegion::WorkerRegion(const Fds& fds, sys::Doorbell* parent_bell)
    : shared_(sys::UniqueFd(fds.shared), kControlBytes + 2 * transport::kRingBytes),
      task_large_(sys::UniqueFd(fds.task_large), transport::kLargeReserve),
      result_large_(sys::UniqueFd(fds.result_large), transport::kLargeReserve),
      parent_bell_(parent_bell) {}

void WorkerRegion::close_descriptors() noexcept {
  shared_.close_descriptor();
  task_large_.close_descriptor();
  result_large_.close_descriptor();
}

transport::ChannelMemory WorkerRegion::task_channel() {
  WorkerControl& c = control();
  return {&c.tasks, shared_.data() + kControlBytes, &task_large_, &c.worker_bell, parent_bell_};
}

transport::ChannelMemory WorkerRegion::result_channel() {
  WorkerControl& c = control();
  return {&c.results, shared_.data() + kControlBytes + transport::kRingBytes, &result_large_,
          parent_bell_, &c.worker_bell};
}

void WorkerRegion::reset_results_and_state() noexcept {
  transport::reset_channel(result_channel());
  WorkerControl& c = control();
  c.running_task.store(0, std::memory_order_relaxed);
  c.running_item.store(UINT32_MAX, std::memory_order_relaxed);
  c.self_stopped_task.store(0, std::memory_order_relaxed);
  c.state.store(0, std::memory_order_relaxed);
  c.worker_bell.sleeping.store(0, std::memory_order_relaxed);
  c.init_error[0] = '\0';
}

}  // namespace mp::runtime
