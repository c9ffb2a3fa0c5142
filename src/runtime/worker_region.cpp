#include "runtime/worker_region.hpp"

#include <unistd.h>

#include <atomic>
#include <mutex>
#include <new>
#include <vector>

namespace mp::runtime {
namespace {
constexpr std::size_t kControlBytes = 4096;
static_assert(sizeof(WorkerControl) <= kControlBytes);
// A spare region keeps this much of each ring's pages: what a short pool's tasks touch.
constexpr std::size_t kSpareRingKeep = std::size_t{256} << 10;
// Enough for the pools a program runs one after another (or two at once).
constexpr std::size_t kMaxSpareRegions = 8;

struct SpareRegions {
  pid_t owner = ::getpid();           // the process whose pools made them
  SpareRegions* inherited = nullptr;  // in a forked child: the parent's, kept as they are
  std::mutex m;
  std::vector<std::unique_ptr<WorkerRegion>> regions;
};

std::atomic<SpareRegions*> g_spares{nullptr};

// This process's spare regions. A forked child starts with none: the ones it inherited
// are its parent's memory, and the lock may have been held by another thread at the
// fork. The child keeps the parent's (never freed, as the parent's own are used by pools
// that outlive main) and makes its own.
SpareRegions& spares() {
  SpareRegions* s = g_spares.load(std::memory_order_acquire);
  if (s != nullptr && s->owner == ::getpid()) {
    return *s;
  }
  auto* mine = new SpareRegions;
  mine->inherited = s;
  if (g_spares.compare_exchange_strong(s, mine, std::memory_order_acq_rel)) {
    return *mine;
  }
  delete mine;  // another thread of this process made them first
  return *s;
}
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

void WorkerRegion::reuse(sys::Doorbell* parent_bell) noexcept {
  parent_bell_ = parent_bell;
  new (shared_.data()) WorkerControl{};
}

void WorkerRegion::trim() noexcept {
  shared_.discard(kControlBytes + kSpareRingKeep, transport::kRingBytes - kSpareRingKeep);
  shared_.discard(kControlBytes + transport::kRingBytes + kSpareRingKeep,
                  transport::kRingBytes - kSpareRingKeep);
  task_large_.discard(0, task_large_.reserved());
  result_large_.discard(0, result_large_.reserved());
}

std::unique_ptr<WorkerRegion> take_spare_region(sys::Doorbell* parent_bell) {
  SpareRegions& s = spares();
  std::lock_guard lock(s.m);
  if (s.regions.empty()) {
    return nullptr;
  }
  std::unique_ptr<WorkerRegion> r = std::move(s.regions.back());
  s.regions.pop_back();
  r->reuse(parent_bell);
  return r;
}

void keep_spare_region(std::unique_ptr<WorkerRegion> region) noexcept {
  if (!region) {
    return;
  }
  region->close_descriptors();
  region->trim();
  try {
    SpareRegions& s = spares();
    std::lock_guard lock(s.m);
    if (s.regions.size() < kMaxSpareRegions) {
      s.regions.push_back(std::move(region));
    }
  } catch (...) {
    // Out of memory: the region goes.
  }
}

}  // namespace mp::runtime
