#include "backends/process_group.hpp"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <map>
#include <new>
#include <optional>
#include <stdexcept>

#include "mp/detail/kernels.hpp"
#include "process/child.hpp"
#include "runtime/thread_budget.hpp"
#include "runtime/worker_boot.hpp"
#include "runtime/worker_loop.hpp"
#include "shm/fd_refs.hpp"
#include "sys/fork_private_fds.hpp"

namespace mp::backends {
namespace {

std::atomic<int> g_worker_counter{0};

// Without a wake-up the parent still re-checks its workers this often, so a worker that
// dies while others keep it busy is noticed.
constexpr auto kExitCheckInterval = std::chrono::milliseconds(2);

// Kills what the tasks of worker `pid` started and left running: the worker leads a
// process group (runtime/worker_loop.cpp). Called before the worker is reaped, while its
// pid cannot name anyone else; a group with no one left in it is ESRCH, harmless.
void kill_process_group(pid_t pid) noexcept { ::kill(-pid, SIGKILL); }
}  // namespace

struct ProcessGroup::Slot {
  // `forked`: the workers are forked from this process (start method fork), which may
  // reuse an ended pool's region.
  Slot(sys::Doorbell* parent_bell, bool forked)
      : owned_region(forked ? runtime::take_spare_region(parent_bell) : nullptr),
        region(owned_region
                   ? *owned_region
                   : *(owned_region = std::make_unique<runtime::WorkerRegion>(parent_bell))),
        tasks(region.task_channel()),
        results(region.result_channel()) {
    // A worker decodes a large task while it is written. Results are not streamed: the
    // parent would wait inside a decode for arguments still to be computed.
    tasks.set_streaming(true);
  }
  std::unique_ptr<runtime::WorkerRegion> owned_region;
  runtime::WorkerRegion& region;
  transport::ChannelProducer tasks;
  transport::ChannelConsumer results;
  pid_t pid = 0;  // 0 while no worker runs in the slot
  sys::UniqueFd pidfd;
  process::Launcher* launcher = nullptr;  // what started the worker; null: our own fork
  int wait_status = 0;
  bool exited = false;  // reaped, exit not yet reported
  // Set by kill(): the task and argument the pool gave up on.
  bool killed = false;
  std::uint64_t kill_tag = 0;
  std::uint32_t kill_item = 0;
  // The task whose crashes are being retried, and how often each of its arguments was.
  std::uint64_t retry_tag = 0;
  std::map<std::uint32_t, int> retries;
  runtime::WorkerConfig config;
  bool large_was_busy = false;  // the task channel's large buffer, at the last poll
};

// While the parent writes a task larger than the ring, the worker must first free the
// large buffer; meanwhile results keep flowing so that a worker blocked on its own full
// result channel can go on.
class ProcessGroup::SendWait final : public transport::ProducerWait {
 public:
  explicit SendWait(ProcessGroup& group) : group_(group) {}
  void target(int slot, GroupEvents& events) {
    slot_ = slot;
    events_ = &events;
  }
  void wait_for_consumer() override {
    if (group_.poll(*events_)) {
      return;
    }
    if (!group_.alive(slot_)) {
      throw std::runtime_error("mp: the worker exited while a large task was being sent to it");
    }
    group_.sleep_until(Clock::now() + std::chrono::milliseconds(1));
  }

 private:
  ProcessGroup& group_;
  int slot_ = 0;
  GroupEvents* events_ = nullptr;
};

ProcessGroup::ProcessGroup(ProcessGroupOptions options)
    : options_(std::move(options)),
      bell_memory_("mp-pool", sizeof(sys::Doorbell)),
      parent_bell_(new (bell_memory_.data()) sys::Doorbell{}),
      eventfd_(sys::make_eventfd()),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      send_wait_(std::make_unique<SendWait>(*this)),
      parent_pid_(::getpid()) {
  // A program that did not call mp::init becomes a spawned worker here, if it is one.
  process::enter_child_role_if_requested();
  if (!epoll_) {
    sys::throw_errno("epoll_create1");
  }
  if (options_.start_method != StartMethod::fork && options_.initializer &&
      !options_.initializer.sendable()) {
    throw std::invalid_argument(
        std::string("mp: with start method ") + std::string(to_string(options_.start_method)) +
        " the pool's initializer must be sendable to a worker that does not share this "
        "process's memory: a function, a lambda capturing only trivially copyable values, a "
        "function object with a cereal serialize(), or mp::bind_initializer(f, args...) with "
        "sendable arguments");
  }
  parent_bell_->use_eventfd(eventfd_.get());
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = UINT64_MAX;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, eventfd_.get(), &ev) != 0) {
    sys::throw_errno("epoll_ctl");
  }
  slots_.reserve(static_cast<std::size_t>(options_.processes));
  for (int i = 0; i < options_.processes; ++i) {
    slots_.push_back(
        std::make_unique<Slot>(parent_bell_, options_.start_method == StartMethod::fork));
  }
  try {
    for (int i = 0; i < options_.processes; ++i) {
      spawn(i, i == 0);
    }
  } catch (...) {
    for (auto& s : slots_) {
      kill_and_reap(*s);
    }
    throw;
  }
}

ProcessGroup::~ProcessGroup() {
  // The pool stops workers politely; whatever is left is killed and reaped, so no child
  // outlives the group as a zombie or an orphan.
  signal_all(SIGKILL);
  for (auto& s : slots_) {
    // Kept once no worker can touch its memory any more.
    if (kill_and_reap(*s) && options_.start_method == StartMethod::fork) {
      runtime::keep_spare_region(std::move(s->owned_region));
    }
  }
}

bool ProcessGroup::kill_and_reap(Slot& s) noexcept {
  if (s.pid <= 0) {
    return true;
  }
  bool gone = true;
  if (!s.exited) {
    sys::pidfd_signal(s.pidfd.get(), SIGKILL);
    kill_process_group(s.pid);
    if (s.launcher != nullptr) {
      gone = s.launcher->reap(s.pid) != process::kStatusUnknown;
    } else {
      int r;
      while ((r = ::waitpid(s.pid, nullptr, 0)) < 0 && errno == EINTR) {
      }
      gone = r == s.pid;
    }
  }
  s.pid = 0;
  s.pidfd.reset();
  return gone;
}

process::Launcher* ProcessGroup::choose_launcher(bool check_threads) {
  switch (options_.start_method) {
    case StartMethod::spawn:
      return &process::spawn_launcher();
    case StartMethod::forkserver:
      return &process::fork_server();
    case StartMethod::fork:
      break;
  }
  // A fork copies only the calling thread; a lock another thread of the application holds
  // stays locked in the child. The worker is forked all the same, as Python's Pool does:
  // what a task sees must be the program the user forked, never a different image
  // (decision 0006). The library's own threads hold no such lock and are not counted; the
  // one application thread of a single-threaded program is no risk.
  // Counted once for the workers a pool starts together: reading the count costs a tenth
  // of a fork.
  static std::atomic<bool> warned{false};
  if (!check_threads || warned.load(std::memory_order_relaxed)) {
    return nullptr;
  }
  const int others = process::user_thread_count() - 1;
  if (others > 0 && !warned.exchange(true)) {
    std::fprintf(stderr,
                 "mp: forking pool workers while this program runs %d other thread(s): a lock "
                 "one of them holds at the fork stays locked in the worker, and a task that "
                 "takes it hangs (task_timeout ends such a task). Create pools before starting "
                 "threads, or choose StartMethod::forkserver or spawn.\n",
                 others);
  }
  return nullptr;
}

void ProcessGroup::spawn(int index, bool check_threads) {
  Slot& s = *slots_[index];
  s.config.index = index;
  s.config.name = "PoolWorker-" + std::to_string(++g_worker_counter);
  s.config.initializer = &options_.initializer;
  s.config.maxtasksperchild = options_.maxtasksperchild;
  s.config.spin = options_.spin;
  s.config.parent = parent_pid_;
  s.config.memory_limit = options_.memory_limit;
  s.config.cpu_time_limit = options_.cpu_time_limit;
  s.config.inner_threads = options_.inner_threads;
  s.config.inner_threads_forced = options_.inner_threads_forced;
  process::Launcher* launcher = choose_launcher(check_threads);
  if (launcher == nullptr) {
    runtime::WorkerRegion* region = &s.region;
    const runtime::WorkerConfig* config = &s.config;
    const int epoll_fd = epoll_.get();
    // A worker holds the fork-private descriptors its initializer was given, and no other
    // (tasks reopen what they are sent; an initializer that cannot be encoded keeps all).
    const std::optional<std::vector<int>> keep =
        shm::fds_to_keep_in_fork(options_.initializer ? &options_.initializer : nullptr);
    if (s.config.inner_threads > 0) {
      runtime::find_thread_library_setters();
    }
    const pid_t pid = process::fork_child(s.config.name, true, [region, config, epoll_fd, &keep] {
      ::close(epoll_fd);
      if (keep) {
        sys::release_fork_private_fds_in_child(*keep);
      }
      runtime::run_worker(*region, *config);
    });
    // A slot never holds a worker without its pidfd: signals and exits go through it.
    s.pidfd = process::pidfd_or_kill(pid);
    s.pid = pid;
  } else {
    const runtime::WorkerRegion::Fds fds = s.region.fds();
    process::LaunchSpec spec;
    spec.role = runtime::kWorkerRole;
    spec.fds = {fds.shared, fds.task_large, fds.result_large, bell_memory_.fd(), eventfd_.get()};
    std::vector<int> initializer_fds;
    spec.blob = runtime::encode_worker_boot(s.config, fds, bell_memory_.fd(), initializer_fds);
    spec.fds.insert(spec.fds.end(), initializer_fds.begin(), initializer_fds.end());
    process::Launched started = launcher->launch(spec);
    s.pid = started.pid;
    s.pidfd = std::move(started.pidfd);
  }
  s.launcher = launcher;
  s.exited = false;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = static_cast<std::uint64_t>(index);
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, s.pidfd.get(), &ev) != 0) {
    // Its exit could not be seen: stop it now rather than leave it unwatched.
    const int err = errno;
    kill_and_reap(s);
    sys::throw_errno("epoll_ctl", err);
  }
}

pid_t ProcessGroup::pid(int slot) const { return slots_[slot]->pid; }
bool ProcessGroup::alive(int slot) const { return slots_[slot]->pid > 0; }
// A worker keeps a large task's buffer until it has run the task: a second large task
// would wait for it inside begin_task()/commit_task(), where the caller's deadline and
// Ctrl-C are not seen. Such a worker takes no task until it frees the buffer.
bool ProcessGroup::has_room(int slot) const {
  const transport::ChannelProducer& tasks = slots_[slot]->tasks;
  return tasks.has_room() && tasks.large_free();
}

detail::Writer& ProcessGroup::begin_task(int slot, std::uint64_t tag,
                                         std::chrono::nanoseconds timeout, GroupEvents& events) {
  Slot& s = *slots_[slot];
  send_wait_->target(slot, events);
  s.tasks.begin(runtime::kTaskFrame, tag, send_wait_.get());
  const std::int64_t timeout_ns = timeout.count();
  s.tasks.write(&timeout_ns, sizeof timeout_ns);  // TaskHeader
  return s.tasks;
}

void ProcessGroup::commit_task(int slot) { slots_[slot]->tasks.commit(); }

void ProcessGroup::abort_task(int slot) noexcept { slots_[slot]->tasks.abort(); }

bool ProcessGroup::drain_results(Slot& s, GroupEvents& events) {
  bool any = false;
  transport::Frame f;
  const int index = s.config.index;
  while (s.results.try_read(f)) {
    any = true;
    detail::Reader r = f.reader();
    std::uint64_t elapsed = 0;
    std::uint8_t status = 0;
    r.read(&elapsed, sizeof elapsed);
    r.read(&status, sizeof status);
    try {
      events.on_result(index, f.tag(), elapsed, status == runtime::kResultOk, r);
    } catch (...) {
      s.results.release(f);
      throw;
    }
    s.results.release(f);
  }
  return any;
}

bool ProcessGroup::poll(GroupEvents& events) {
  bool any = false;
  for (auto& s : slots_) {
    any |= drain_results(*s, events);
    std::uint64_t tag = 0;
    std::uint64_t bytes = 0;
    if (s->results.take_coming(tag, bytes)) {
      events.on_result_coming(s->config.index, tag, bytes);
    }
    // A worker that frees a large task's buffer lets the pool send to it again (see
    // has_room()); one that gave the task up (its message was aborted) sends no result
    // that would say so.
    const bool large_free = s->tasks.large_free();
    any |= large_free && s->large_was_busy;
    s->large_was_busy = !large_free;
  }
  const auto now = Clock::now();
  if (exit_seen_.exchange(false, std::memory_order_relaxed) ||
      now - last_exit_check_ >= kExitCheckInterval) {
    last_exit_check_ = now;
    collect_exits(0);
  }
  while (!exited_.empty()) {
    const int slot = exited_.back();
    exited_.pop_back();
    report_exit(slot, events);
    any = true;
  }
  return any;
}

void ProcessGroup::report_exit(int index, GroupEvents& events) {
  Slot& s = *slots_[index];
  // Results the worker published before it died are real results.
  drain_results(s, events);
  runtime::WorkerControl& c = s.region.control();
  WorkerExit e;
  e.pid = s.pid;
  e.wait_status = s.wait_status;
  e.running_tag = c.running_task.load(std::memory_order_acquire);
  const std::uint32_t state = c.state.load(std::memory_order_acquire);
  e.retired = (state & runtime::kWorkerRetired) != 0;
  e.init_failed = (state & runtime::kWorkerInitFailed) != 0;
  // Stopped by its own watchdog for running past task_timeout while the pool was not
  // watching: as if the pool had killed it.
  const std::uint64_t self_stopped = c.self_stopped_task.load(std::memory_order_acquire);
  if (!s.killed && self_stopped != 0 && self_stopped == e.running_tag) {
    s.killed = true;
    s.kill_tag = self_stopped;
    s.kill_item = c.self_stopped_item.load(std::memory_order_relaxed);
  }
  if ((state & runtime::kWorkerOutOfMemory) != 0) {
    e.cause = CrashCause::memory_limit;
  } else if (options_.cpu_time_limit.count() > 0 && WIFSIGNALED(s.wait_status) &&
             WTERMSIG(s.wait_status) == SIGXCPU) {
    // The kernel sends SIGXCPU when the worker passes the limit set before each task.
    e.cause = CrashCause::cpu_time_limit;
  }
  if (e.init_failed) {
    c.init_error[sizeof c.init_error - 1] = '\0';
    e.init_error = c.init_error;
  } else if ((state & runtime::kWorkerReady) == 0 && options_.initializer) {
    // Died inside the initializer without throwing (a signal, an exit).
    e.init_failed = true;
    e.init_error = WIFSIGNALED(s.wait_status)
                       ? "killed by signal " + std::to_string(WTERMSIG(s.wait_status))
                       : "exited with status " + std::to_string(WEXITSTATUS(s.wait_status));
  }
  // The task that died with the worker, whose frame is still first in the task ring:
  // - a crash, with crash_retries left for the argument it died in: run it again whole;
  // - a crash or a kill inside one argument: the replacement runs the task again and
  //   reports that argument as crashed (or timed out) instead of running it;
  // - a kill aimed at an argument the worker had already finished: run it again, nothing
  //   failed;
  // - a death outside any argument: the frame is dropped so it never runs twice, and the
  //   pool fails the whole task.
  // Tasks queued behind it stay.
  if (e.running_tag != 0) {
    transport::ChannelConsumer tasks(s.region.task_channel());
    transport::Frame f;
    if (tasks.try_read(f) && f.tag() == e.running_tag) {
      const std::uint32_t item = c.running_item.load(std::memory_order_relaxed);
      const bool in_argument = item < detail::ItemMonitor::kDone;
      if (c.skip_tag != e.running_tag) {
        c.skip_tag = e.running_tag;
        c.skip_count = 0;
      }
      if (s.retry_tag != e.running_tag) {
        s.retry_tag = e.running_tag;
        s.retries.clear();
      }
      const bool missed = s.killed && (s.kill_tag != e.running_tag || s.kill_item != item);
      if (missed) {
        e.rerun = true;
      } else if (!s.killed && s.retries[item] < options_.crash_retries) {
        ++s.retries[item];
        e.rerun = true;
      } else if (in_argument && c.skip_count < runtime::WorkerControl::kMaxSkips) {
        c.skip_items[c.skip_count] = item;
        c.skip_pid[c.skip_count] = s.pid;
        c.skip_status[c.skip_count] = s.wait_status;
        c.skip_cause[c.skip_count] =
            s.killed ? detail::kCauseKilledByPool : static_cast<std::int32_t>(e.cause);
        ++c.skip_count;
        e.rerun = true;
      } else {
        tasks.release(f);
      }
    }
  }
  e.killed = s.killed && !e.rerun;
  s.killed = false;
  s.region.reset_results_and_state();
  s.pid = 0;
  s.exited = false;
  events.on_exit(index, e);
}

void ProcessGroup::collect_exits(int timeout_ms) {
  epoll_event evs[16];
  const int n = ::epoll_wait(epoll_.get(), evs, 16, timeout_ms);
  for (int i = 0; i < n; ++i) {
    if (evs[i].data.u64 == UINT64_MAX) {
      sys::drain_eventfd(eventfd_.get());
      continue;
    }
    const int index = static_cast<int>(evs[i].data.u64);
    Slot& s = *slots_[index];
    if (s.pid <= 0 || s.exited) {
      continue;
    }
    int status = 0;
    kill_process_group(s.pid);
    // A worker the fork server started is the server's child: the server reaps it and
    // relays the status (its pidfd being readable, the status is on its way).
    const pid_t r = s.launcher != nullptr ? (status = s.launcher->reap(s.pid), s.pid)
                                          : ::waitpid(s.pid, &status, WNOHANG);
    if (status == process::kStatusUnknown) {
      // Its fork server died before relaying the status; a worker dies with its server,
      // by the parent-death signal (SIGKILL).
      status = SIGKILL;
    }
    if (r == s.pid) {
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, s.pidfd.get(), nullptr);
      s.pidfd.reset();
      s.wait_status = status;
      s.exited = true;
      exited_.push_back(index);
    }
  }
}

bool ProcessGroup::prepare_sleep() {
  parent_bell_->prepare_sleep();
  bool ready = !exited_.empty();
  for (auto& s : slots_) {
    ready = ready || s->results.readable();
  }
  return !ready;
}

void ProcessGroup::block_until(Clock::time_point deadline) {
  int timeout_ms = -1;
  if (deadline != Clock::time_point::max()) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    timeout_ms = static_cast<int>(std::clamp<long long>(left.count(), 0, 1'000'000));
  }
  // Level-triggered: a worker's exit stays readable until poll() reaps it under the lock.
  epoll_event evs[16];
  const int n = ::epoll_wait(epoll_.get(), evs, 16, timeout_ms);
  for (int i = 0; i < n; ++i) {
    if (evs[i].data.u64 == UINT64_MAX) {
      sys::drain_eventfd(eventfd_.get());
    } else {
      exit_seen_.store(true, std::memory_order_relaxed);
    }
  }
}

void ProcessGroup::finish_sleep() { parent_bell_->cancel_sleep(); }

void ProcessGroup::wake_sleeper() noexcept { sys::signal_eventfd(eventfd_.get()); }

WorkerGroup::Running ProcessGroup::running(int slot) const {
  const runtime::WorkerControl& c = slots_[slot]->region.control();
  Running r;
  r.tag = c.running_task.load(std::memory_order_acquire);
  r.since = Clock::time_point(
      std::chrono::nanoseconds(c.running_since_ns.load(std::memory_order_relaxed)));
  r.item = c.running_item.load(std::memory_order_relaxed);
  return r;
}

void ProcessGroup::kill(int slot, std::uint64_t tag, std::uint32_t item) noexcept {
  Slot& s = *slots_[slot];
  if (s.pid > 0 && !s.exited) {
    s.killed = true;
    s.kill_tag = tag;
    s.kill_item = item;
    sys::pidfd_signal(s.pidfd.get(), SIGKILL);
  }
}

void ProcessGroup::respawn(int slot) { spawn(slot, true); }

void ProcessGroup::stop_all() {
  for (auto& s : slots_) {
    if (s->pid > 0 && !s->exited) {
      // A stop frame is tiny; wait for room if the ring is full of unread tasks, unless
      // the worker dies meanwhile (then it needs no stop frame).
      while (!s->tasks.has_room() && !s->exited) {
        sleep_until(Clock::now() + std::chrono::milliseconds(1));
      }
      if (!s->exited) {
        s->tasks.begin(runtime::kStopFrame, 0, nullptr);
        s->tasks.commit();
      }
    }
  }
}

void ProcessGroup::signal_all(int signal) noexcept {
  for (auto& s : slots_) {
    if (s->pid > 0 && !s->exited) {
      sys::pidfd_signal(s->pidfd.get(), signal);
    }
  }
}

bool ProcessGroup::wait_all_exited(GroupEvents& events, Clock::time_point deadline) {
  for (;;) {
    poll(events);
    const bool any_alive =
        std::any_of(slots_.begin(), slots_.end(), [](const auto& s) { return s->pid > 0; });
    if (!any_alive) {
      return true;
    }
    if (Clock::now() >= deadline) {
      return false;
    }
    sleep_until(std::min(deadline, Clock::now() + std::chrono::milliseconds(50)));
    collect_exits(0);
  }
}

void enter_child_role_if_requested() { process::enter_child_role_if_requested(); }

std::unique_ptr<WorkerGroup> make_process_group(ProcessGroupOptions options) {
  return std::make_unique<ProcessGroup>(std::move(options));
}

}  // namespace mp::backends
