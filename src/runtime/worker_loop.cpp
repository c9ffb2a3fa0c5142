#include "runtime/worker_loop.hpp"

#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <iostream>
#include <vector>

#include "mp/detail/callable.hpp"
#include "mp/detail/kernels.hpp"
#include "mp/detail/shared_block.hpp"
#include "process/child.hpp"
#include "runtime/thread_budget.hpp"
#include "runtime/worker_limits.hpp"
#include "runtime/worker_watchdog.hpp"

namespace mp::runtime {
namespace {

using Clock = std::chrono::steady_clock;

// How long a sleeping worker waits before checking that its parent still exists. The
// parent-death signal normally ends it first; this covers a parent that died before the
// signal was armed.
constexpr std::chrono::milliseconds kParentCheck{500};

class Worker final : public transport::ProducerWait, public transport::ConsumerWait {
 public:
  Worker(WorkerRegion& region, const WorkerConfig& config)
      : control_(region.control()),
        config_(config),
        watchdog_(control_),
        tasks_(region.task_channel(), this),
        results_(region.result_channel()) {}

  [[noreturn]] void run() {
    initialize();
    control_.state.fetch_or(kWorkerReady, std::memory_order_release);
    int done = 0;
    for (;;) {
      transport::Frame frame;
      // The parent rings after it releases a result: kept descriptors go as soon as it has.
      wait_until([&] {
        close_kept_once_read();
        return tasks_.try_read(frame);
      });
      if (frame.kind() == kStopFrame) {
        tasks_.release(frame, false);
        exit_once_results_read();
      }
      run_task(frame);
      ++done;
      if (sys::lost_descriptor() >= 0) {
        retire_without_descriptor(sys::lost_descriptor());
      }
      if (config_.maxtasksperchild > 0 && done >= config_.maxtasksperchild) {
        control_.state.fetch_or(kWorkerRetired, std::memory_order_release);
        exit_once_results_read();
      }
    }
  }

  void wait_for_consumer() override {
    results_.wake_consumer();
    wait_until([&] { return control_.results.large_busy.load(std::memory_order_acquire) == 0; });
  }

  // A large task is read while the parent still writes it.
  void wait_for_producer(bool (*more)(const void*), const void* ctx) override {
    wait_until([&] { return more(ctx); });
  }

 private:
  void initialize() {
    if (config_.initializer == nullptr || !*config_.initializer) {
      return;
    }
    try {
      (*config_.initializer)();
    } catch (const std::exception& e) {
      report_init_failure(e.what());
    } catch (...) {
      report_init_failure("unknown exception");
    }
  }

  // A task closed the descriptor through which this worker wakes the parent, or opened a
  // file of its own at that number. The worker never writes through it again; its results
  // so far are delivered (the parent also looks on its own), and a fresh worker takes over.
  [[noreturn]] void retire_without_descriptor(int fd) {
    std::fprintf(stderr,
                 "mp: a task closed or reused descriptor %d, which %s needs to wake the pool; "
                 "the worker is replaced\n",
                 fd, config_.name.c_str());
    control_.state.fetch_or(kWorkerRetired, std::memory_order_release);
    process::exit_child(0);
  }

  [[noreturn]] void report_init_failure(const char* what) {
    std::snprintf(control_.init_error, sizeof control_.init_error, "%s", what);
    control_.state.fetch_or(kWorkerInitFailed, std::memory_order_release);
    std::fprintf(stderr, "mp: initializer of %s failed: %s\n", config_.name.c_str(), what);
    process::exit_child(1);
  }

  void run_task(const transport::Frame& frame) {
    if (config_.cpu_time_limit.count() > 0) {
      limit_cpu_for_next_task(config_.cpu_time_limit);
    }
    // Announce the task before touching it, so a crash from here on is attributed to it.
    // (The parent reads these after the worker's death, which the kernel orders, or to
    // time the task out: the release pairs the new tag with its start time and argument.)
    const auto start = Clock::now();
    control_.running_item.store(detail::ItemMonitor::kNone, std::memory_order_relaxed);
    control_.running_since_ns.store(
        std::chrono::duration_cast<std::chrono::nanoseconds>(start.time_since_epoch()).count(),
        std::memory_order_relaxed);
    control_.running_task.store(frame.tag(), std::memory_order_release);
    if (!results_.has_room()) {
      results_.wake_consumer();
      wait_until([&] { return results_.has_room(); });
    }
    results_.begin(kResultFrame, frame.tag(), this);
    const ResultHeader header{0, kResultOk};
    results_.write(&header.elapsed_ns, sizeof header.elapsed_ns);
    results_.write(&header.status, sizeof header.status);
    detail::Reader in = frame.reader();
    TaskHeader task{};
    in.read(&task.timeout_ns, sizeof task.timeout_ns);
    watchdog_.set_timeout(std::chrono::nanoseconds(task.timeout_ns));
    try {
      std::uint64_t id = 0;
      in.read(&id, sizeof id);
      const detail::Trampoline fn = trampoline(id);
      if (fn == nullptr) {
        throw std::runtime_error("mp: the worker does not know the callable id of this task");
      }
      detail::ItemMonitor monitor;
      monitor.running = &control_.running_item;
      if (control_.skip_tag == frame.tag()) {
        monitor.skip = control_.skip_items;
        monitor.skip_pid = control_.skip_pid;
        monitor.skip_status = control_.skip_status;
        monitor.skip_cause = control_.skip_cause;
        monitor.skip_count = control_.skip_count;
      }
      detail::FdCapture shared_objects(detail::FdCapture::Mode::keep_open);
      fn(in, results_, monitor);
      keep_until_read(shared_objects.take_kept());
      control_.running_item.store(detail::ItemMonitor::kDone, std::memory_order_relaxed);
    } catch (const transport::MessageAborted&) {
      // The parent gave the task up while it was still sending it (reading its input
      // threw): no argument of it has run (see ChunkKernel), and no result is expected.
      control_.running_item.store(detail::ItemMonitor::kDone, std::memory_order_relaxed);
      results_.abort();
      tasks_.release(frame, false);
      control_.running_task.store(0, std::memory_order_release);
      return;
    } catch (...) {
      control_.running_item.store(detail::ItemMonitor::kDone, std::memory_order_relaxed);
      detail::encode_task_error(results_, kResultHeaderBytes, UINT32_MAX, std::current_exception());
    }
    const auto elapsed = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
    results_.patch(0, &elapsed, sizeof elapsed);
    // The task frame goes before the result is published: from here a crash loses the
    // result, and the parent reports the running task as crashed instead of re-running it.
    // A sleeping parent is woken only when this worker runs out of queued tasks (or must
    // wait for the parent): one wake-up per queue of results instead of one per result.
    // With as many busy workers as cores, every wake-up takes a worker's time, and the
    // parent needs to act only when a queue runs dry. (It also looks on its own every
    // millisecond, so no result waits long unseen.)
    tasks_.release(frame, false);
    // A result that carries shared objects is read at once, so that their memory is not
    // held here longer than needed.
    const bool carries_shared_objects = !pending_kept_.empty();
    results_.commit(carries_shared_objects || !tasks_.readable());
    if (carries_shared_objects) {
      kept_.push_back({results_.committed_end(), std::move(pending_kept_)});
      pending_kept_.clear();
    }
    control_.running_task.store(0, std::memory_order_release);
  }

  // The shared objects in a result (an array the task made) are gone from this worker
  // once encoded; copies of their descriptors are held until the parent, which opens its
  // own through /proc while it decodes the result, has released the result's frame.
  void keep_until_read(const std::vector<int>& fds) {
    for (const int fd : fds) {
      struct stat st {};
      ::fstat(fd, &st);
      pending_kept_.push_back({fd, st.st_dev, st.st_ino});
    }
  }

  void close_kept_once_read() noexcept {
    while (!kept_.empty() && results_.released_up_to(kept_.front().end)) {
      for (const KeptFd& k : kept_.front().fds) {
        // A task may have closed it and opened a file of its own at that number.
        struct stat st {};
        if (::fstat(k.fd, &st) == 0 && st.st_dev == k.device && st.st_ino == k.inode) {
          ::close(k.fd);
        }
      }
      kept_.pop_front();
    }
  }

  [[noreturn]] void exit_once_results_read() {
    if (!kept_.empty()) {
      results_.wake_consumer();
      wait_until([&] {
        close_kept_once_read();
        return kept_.empty();
      });
    }
    process::exit_child(0);
  }

  // The registry lookup takes a lock; consecutive tasks usually run the same kernel.
  detail::Trampoline trampoline(std::uint64_t id) {
    if (id != last_id_ || last_fn_ == nullptr) {
      last_fn_ = detail::find_trampoline(id);
      last_id_ = id;
    }
    return last_fn_;
  }

  // Spins for config_.spin, then sleeps on the worker's doorbell until `ready()`.
  template <class Ready>
  void wait_until(Ready ready) {
    if (ready()) {
      return;
    }
    const auto spin_end = Clock::now() + config_.spin;
    for (int i = 0;; ++i) {
      if (ready()) {
        return;
      }
      sys::cpu_relax();
      if ((i & 63) == 63) {
        if (Clock::now() >= spin_end) {
          break;
        }
        // With more spinners than cores (a pool as large as the machine, plus the
        // parent), give a runnable peer the core instead of burning its time slice.
        ::sched_yield();
      }
    }
    sys::Doorbell& bell = control_.worker_bell;
    for (;;) {
      bell.prepare_sleep();
      if (ready()) {
        bell.cancel_sleep();
        return;
      }
      bell.sleep(kParentCheck);
      if (::getppid() != config_.parent) {
        process::exit_child(1);
      }
    }
  }

  WorkerControl& control_;
  const WorkerConfig& config_;
  Watchdog watchdog_;
  transport::ChannelConsumer tasks_;
  transport::ChannelProducer results_;
  std::uint64_t last_id_ = 0;
  detail::Trampoline last_fn_ = nullptr;
  struct KeptFd {
    int fd;
    dev_t device;
    ino_t inode;
  };
  struct KeptFds {
    std::uint64_t end;  // of the result frame that names them
    std::vector<KeptFd> fds;
  };
  std::vector<KeptFd> pending_kept_;  // for the result being written
  std::deque<KeptFds> kept_;
};

}  // namespace

void run_worker(WorkerRegion& region, const WorkerConfig& config) {
  // The parent decides what Ctrl-C means; a worker must not die of the terminal's SIGINT.
  ::signal(SIGINT, SIG_IGN);
  // The worker leads a process group of its own, which the processes its tasks start join:
  // when the worker is gone (crashed, killed, stopped with the pool) the pool kills the
  // group, so nothing a task started outlives it. Out of the terminal's foreground group,
  // a write to the terminal would stop the worker under `stty tostop`; SIGTTOU ignored
  // lets it write, as it could before.
  ::setpgid(0, 0);
  ::signal(SIGTTOU, SIG_IGN);
  region.close_descriptors();
  limit_inner_threads(config.inner_threads, config.inner_threads_forced);
  apply_worker_limits(config, region.control());
  Worker worker(region, config);
  worker.run();
}

}  // namespace mp::runtime
