// The pool engine. Any thread may drive it; one lock guards its state.
//
//   submit(job) -> dispatch(): job.encode_next() writes a chunk straight into the
//                  least-loaded worker's task channel, tagged; the tag is queued in
//                  that worker's FIFO of outstanding tasks
//   wait(cond)  -> the waiting thread drives: poll the group, where each result frame
//                  pops the worker's FIFO front and is decoded into its job and a worker
//                  exit fails the task it was running (WorkerCrashed); then dispatch()
//                  refills; spin briefly, then sleep in epoll (without the lock)
//   progress    -> the pool's own thread drives the same way whenever work is
//                  outstanding and no caller is waiting, so queued work finishes, timeouts
//                  are enforced and callbacks run while the program does something else.
//                  It forks every worker (at start and as a replacement), so a worker's
//                  parent-death signal is tied to the pool's life, not to whichever
//                  thread happened to notice a crash (decision 0006).
//
// A caller that waits drives by itself, so a round trip costs no hand-off between
// threads; the progress thread steps back while one does, and sleeps for good once the
// pool has been idle for a while.
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>

#include <pthread.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include "backends/process_group_options.hpp"
#include "mp/detail/kernels.hpp"
#include "mp/detail/pool_core.hpp"
#include "mp/errors.hpp"
#include "mp/process.hpp"
#include "serial/task_error.hpp"
#include "sys/futex.hpp"
#include "sys/interrupt.hpp"
#include "sys/library_thread.hpp"

namespace mp::pool {
namespace {

using detail::ChunkRef;
using detail::Job;
using Clock = std::chrono::steady_clock;

// How much work (in worker time) the engine keeps queued per worker: enough that a worker
// never waits for the parent between tasks, little enough that uneven tasks still
// balance at the end of a call. See BENCHMARKS.md (map chunksize 1, primes).
constexpr double kQueuedWorkNs = 1'000'000;
constexpr std::size_t kMinQueued = 2;
constexpr std::size_t kMaxQueued = 1024;
// Worker time one message should take when small chunks are merged (batch_for), and the
// most arguments one merged message may hold. See BENCHMARKS.md (primes, chunksize 1).
constexpr double kBatchTargetNs = 200'000;
// Longest a waiting parent sleeps without looking at the result channels.
constexpr auto kMaxUnseenResult = std::chrono::milliseconds(1);
constexpr std::size_t kMaxBatchItems = 16'384;
// Workers that die before finishing any task, in a row, before the pool gives up.
constexpr int kMaxFruitlessRespawns = 8;
// The finest interval at which task_timeout is checked (see enforce_timeouts).
constexpr auto kMinTimeoutLook = std::chrono::milliseconds(1);
// How long terminate() lets workers handle SIGTERM before it kills them.
constexpr auto kTerminateGrace = std::chrono::seconds(1);

// joining: every task is done and the workers were told to exit; joined: they have.
enum class State { running, closed, joining, joined, terminated };

// The progress thread looks this often whether it is needed while a caller drives or
// the pool was busy a moment ago, and parks for good after kLinger without work: a
// submit then wakes it. Looking costs a few microseconds; see BENCHMARKS.md (idle CPU).
constexpr auto kStandbyLook = std::chrono::milliseconds(5);
constexpr auto kLinger = std::chrono::milliseconds(100);

class PoolEngine final : public detail::PoolCore, private backends::GroupEvents {
 public:
  explicit PoolEngine(PoolOptions options) : options_(std::move(options)) {
    if (options_.processes == 0) {
      options_.processes = mp::cpu_count();
    }
    if (options_.processes < 0) {
      throw std::invalid_argument("mp: Pool processes must be at least 1, not " +
                                  std::to_string(options_.processes));
    }
    check_task_timeout(options_.task_timeout);
    task_timeout_ = options_.task_timeout;
    if (options_.cpu_time_limit.count() < 0) {
      throw std::invalid_argument("mp: cpu_time_limit must be zero (no limit) or positive, not " +
                                  std::to_string(options_.cpu_time_limit.count()) + " s");
    }
    if (options_.inner_max_num_threads < kInnerThreadsAuto) {
      throw std::invalid_argument(
          "mp: inner_max_num_threads must be 0 (leave alone), kInnerThreadsAuto (-1) or "
          "positive, not " +
          std::to_string(options_.inner_max_num_threads));
    }
    if (options_.crash_retries < 0) {
      throw std::invalid_argument("mp: crash_retries must be 0 or more, not " +
                                  std::to_string(options_.crash_retries));
    }
    if (options_.maxtasksperchild < 0) {
      throw std::invalid_argument("mp: maxtasksperchild must be 0 (no limit) or positive, not " +
                                  std::to_string(options_.maxtasksperchild));
    }
    outstanding_.resize(static_cast<std::size_t>(options_.processes));
    fruitless_.assign(static_cast<std::size_t>(options_.processes), 0);
    watched_.assign(static_cast<std::size_t>(options_.processes), Watched{});
    backends::enter_child_role_if_requested();
    // The workers are forked by the progress thread (see the top of this file); the
    // constructor waits for them, so they are copies of the program as it is now.
    std::exception_ptr start_error;
    bool started = false;
    progress_ = std::thread([this, &start_error, &started] {
      sys::LibraryThreadScope library;
      block_program_signals();
      std::unique_lock l(mu_);
      try {
        group_ = backends::make_process_group(group_options());
      } catch (...) {
        start_error = std::current_exception();
      }
      started = true;
      progress_cv_.notify_all();
      if (!start_error) {
        progress_main(l);
      }
    });
    {
      std::unique_lock l(mu_);
      progress_cv_.wait(l, [&] { return started; });
    }
    if (start_error) {
      progress_.join();
      std::rethrow_exception(start_error);
    }
  }

  ~PoolEngine() override {
    try {
      terminate();
    } catch (...) {
      // The group's destructor still kills and reaps every worker.
    }
    {
      std::lock_guard l(mu_);
      stop_progress_ = true;
      progress_cv_.notify_all();
    }
    group_->wake_sleeper();
    progress_.join();  // never this thread: see PoolCore::create
  }

  int processes() const override { return options_.processes; }

  std::vector<pid_t> pids() const override {
    std::lock_guard l(mu_);
    std::vector<pid_t> out;
    for (int i = 0; i < group_->size(); ++i) {
      out.push_back(group_->pid(i));
    }
    return out;
  }

  std::unique_lock<std::mutex> lock() override { return std::unique_lock(mu_); }

  void submit(std::shared_ptr<Job> job) override {
    std::unique_lock l(mu_);
    if (state_ != State::running) {
      throw std::logic_error("mp: Pool not running (close(), join() or terminate() was called)");
    }
    if (broken_) {
      std::rethrow_exception(broken_);
    }
    job->task_timeout_ = task_timeout_;
    if (task_timeout_.count() > 0) {
      next_timeout_ = Clock::time_point::min();  // look at once
    }
    if (!job->exhausted_) {
      jobs_.push_back(job);
    }
    settle(job);
    dispatch();
    ++activity_;
    if (progress_parked_) {
      progress_parked_ = false;
      progress_cv_.notify_one();
    }
    run_completions(l);
  }

  void abandon(const std::shared_ptr<Job>& job) override {
    std::unique_lock l(mu_);
    job->exhausted_ = true;  // no more of its input is read; what was sent finishes
    settle(job);
    dispatch();  // drops it from the jobs with input to send
    run_completions(l);
  }

  void set_task_timeout(std::chrono::nanoseconds timeout) override {
    check_task_timeout(timeout);
    std::lock_guard l(mu_);
    task_timeout_ = timeout;
  }
  std::chrono::nanoseconds task_timeout() const override {
    std::lock_guard l(mu_);
    return task_timeout_;
  }

  bool wait(detail::WaitCondition done, Clock::time_point deadline) override {
    // Installed the first time the wait sleeps: a signal during the short spin before it
    // keeps its default action, and a quick round trip pays no sigaction calls. Declared
    // before the lock, so that it ends (and may raise an untaken signal) without it.
    std::optional<sys::InterruptWatch> watch;
    std::unique_lock l(mu_);
    ++waiters_;
    struct Leave {
      PoolEngine& e;
      ~Leave() {
        if (--e.waiters_ == 0 && e.anything_outstanding()) {
          ++e.activity_;
        }
      }
    } leave{*this};
    // A job may have room to send again since the last call (imap's window reopens as
    // the caller consumes results).
    dispatch();
    auto last_progress = Clock::now();
    unsigned spins = 0;
    for (;;) {
      run_completions(l);
      if (done()) {
        return true;
      }
      if (watch) {
        if (const int sig = sys::InterruptWatch::take(); sig != 0) {
          terminate_locked(l);
          throw Interrupted(sig, "while the caller waited for a Pool; the pool was terminated");
        }
      }
      if (drive_once()) {
        last_progress = Clock::now();
        continue;
      }
      const auto now = Clock::now();
      if (now >= next_timeout_) {
        enforce_timeouts();
      }
      if (now >= deadline) {
        return done();
      }
      if (!anything_outstanding() && respawns_.empty()) {
        if (done()) {
          return true;
        }
        throw std::logic_error(
            "mp: internal error: waiting for a result that no task will produce");
      }
      // Spin only while a core is free for it: when every core has a busy worker, a
      // spinning parent would take time from them, and a worker with queued tasks does
      // not need a quick answer.
      if (now - last_progress < options_.spin && busy_workers() < cores_) {
        l.unlock();
        for (int i = 0; i < 32; ++i) {
          sys::cpu_relax();
        }
        if (++spins % 4 == 0) {
          ::sched_yield();  // see Worker::wait_until: spinners may outnumber cores
        }
        l.lock();
        continue;
      }
      if (!watch) {
        l.unlock();
        watch.emplace();
        l.lock();
        continue;
      }
      // Workers announce results only when their queue runs dry (runtime/worker_loop.cpp),
      // so a result finished ahead of a long task could wait unseen; looking every
      // kMaxUnseenResult bounds that delay.
      sleep(l, std::min({deadline, enforce_timeouts(), now + kMaxUnseenResult}));
    }
  }

  void close() override {
    std::lock_guard l(mu_);
    if (state_ == State::running) {
      state_ = State::closed;
    }
  }

  bool join(Clock::time_point deadline) override {
    {
      std::unique_lock l(mu_);
      if (state_ == State::running) {
        throw std::logic_error(
            "mp: Pool is still running: call close() or terminate() before join()");
      }
      if (state_ == State::terminated || broken_) {
        // A broken pool has killed its workers already; its tasks will never finish.
        reap_after_terminate();
        return true;
      }
    }
    // Tasks sent finish; an imap whose window is full and whose results nobody takes
    // would never send the rest, so it is not waited for (see end_unsent_input).
    if (!wait(detail::make_condition([this] { return !anything_sendable_or_running(); }),
              deadline)) {
      return false;
    }
    std::unique_lock l(mu_);
    if (state_ == State::closed) {
      end_unsent_input();
      state_ = State::joining;
      group_->stop_all();
    }
    if (state_ == State::joining) {
      // Every task is done: the workers exit as soon as they read their stop frame.
      if (!group_->wait_all_exited(*this, deadline)) {
        return false;
      }
      state_ = State::joined;
    }
    run_completions(l);
    return true;
  }

  void terminate() override {
    std::unique_lock l(mu_);
    terminate_locked(l);
  }

 private:
  struct Pending {
    std::shared_ptr<Job> job;
    ChunkRef chunk;
    std::uint64_t tag;
  };

  backends::ProcessGroupOptions group_options() const {
    backends::ProcessGroupOptions g;
    g.processes = options_.processes;
    g.start_method = options_.start_method;
    g.initializer = options_.initializer;
    g.maxtasksperchild = options_.maxtasksperchild;
    g.crash_retries = options_.crash_retries;
    g.memory_limit = options_.memory_limit;
    g.cpu_time_limit = options_.cpu_time_limit;
    g.spin = options_.spin;
    g.inner_threads_forced = options_.inner_max_num_threads > 0;
    g.inner_threads = options_.inner_max_num_threads == kInnerThreadsAuto
                          ? std::max(1, mp::cpu_count() / options_.processes)
                          : options_.inner_max_num_threads;
    return g;
  }

  // Signals meant for the program (Ctrl-C, SIGTERM, SIGCHLD, timers...) go to its own
  // threads; the faults a thread causes itself cannot be blocked and stay as they are.
  static void block_program_signals() {
    sigset_t all;
    ::sigfillset(&all);
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS}) {
      ::sigdelset(&all, sig);
    }
    ::pthread_sigmask(SIG_BLOCK, &all, nullptr);
  }

  // The progress thread: drives the pool while work is outstanding and no caller does.
  void progress_main(std::unique_lock<std::mutex>& l) {
    // The pool was last seen busy (activity_ moving, or work to drive) at busy_at.
    std::uint64_t seen_activity = activity_;
    auto busy_at = Clock::now();
    while (!stop_progress_) {
      if (!respawns_.empty()) {
        respawn_pending();
        continue;
      }
      // Input an imap holds back for its consumer needs nobody until the consumer comes.
      const bool needed = waiters_ == 0 && state_ != State::joined && state_ != State::terminated &&
                          !broken_ && (anything_sendable_or_running() || !completed_.empty());
      if (!needed) {
        const auto now = Clock::now();
        if (activity_ != seen_activity) {
          seen_activity = activity_;
          busy_at = now;
        }
        if (waiters_ == 0 && now - busy_at > kLinger) {
          progress_parked_ = true;
          progress_cv_.wait(l, [this] { return stop_progress_ || !progress_parked_; });
          progress_parked_ = false;
          seen_activity = activity_;
          busy_at = Clock::now();
        } else {
          progress_cv_.wait_for(l, kStandbyLook);
        }
        continue;
      }
      busy_at = Clock::now();
      run_completions(l);
      if (drive_once()) {
        continue;
      }
      const auto now = Clock::now();
      if (now >= next_timeout_) {
        enforce_timeouts();
      }
      if (!completed_.empty() || !respawns_.empty()) {
        continue;
      }
      sleep(l, std::min(enforce_timeouts(), now + kMaxUnseenResult));
    }
  }

  // One look at the workers: delivers results and exits, and refills. Returns true if
  // anything happened.
  bool drive_once() {
    if (!group_->poll(*this)) {
      return false;
    }
    dispatch();
    if (followers_ > 0) {
      wake_cv_.notify_all();  // their results may be among those just delivered
    }
    if (sleeper_) {
      group_->wake_sleeper();  // the sleeper may be waiting for one of them too
    }
    return true;
  }

  // Sleeps until a worker may have something, or `until`. One thread at a time sleeps in
  // the group (its doorbell has one sleeper flag); others wait for it to wake.
  void sleep(std::unique_lock<std::mutex>& l, Clock::time_point until) {
    if (!sleeper_) {
      sleeper_ = true;
      if (group_->prepare_sleep()) {
        l.unlock();
        group_->block_until(until);
        l.lock();
      }
      group_->finish_sleep();
      sleeper_ = false;
      if (followers_ > 0) {
        wake_cv_.notify_all();
      }
    } else {
      ++followers_;
      wake_cv_.wait_until(l, std::min(until, Clock::now() + kMaxUnseenResult));
      --followers_;
    }
  }

  // A job may have finished: mark it, and queue its completion to run without the lock.
  void settle(const std::shared_ptr<Job>& job) {
    if (job->settle() && job->has_completion()) {
      completed_.push_back(job);
    }
  }

  void run_completions(std::unique_lock<std::mutex>& l) {
    while (!completed_.empty()) {
      std::vector<std::shared_ptr<Job>> now;
      now.swap(completed_);
      l.unlock();
      for (auto& job : now) {
        job->complete();
      }
      now.clear();  // a job's last owner may be a callback's capture: release it unlocked
      l.lock();
    }
  }

  void terminate_locked(std::unique_lock<std::mutex>& l) {
    if (state_ == State::terminated || state_ == State::joined) {
      return;
    }
    state_ = State::terminated;
    fail_everything(std::make_exception_ptr(BrokenPool("mp: the pool was terminated")));
    respawns_.clear();
    group_->signal_all(SIGTERM);
    reap_after_terminate();
    run_completions(l);
  }

  void reap_after_terminate() {
    if (!group_->wait_all_exited(*this, Clock::now() + kTerminateGrace)) {
      group_->signal_all(SIGKILL);
      group_->wait_all_exited(*this, Clock::time_point::max());
    }
  }

  // Kills the worker of every argument running past task_timeout (its exit then fails
  // that argument with TimeoutError); returns when to look again.
  //
  // Workers publish which argument they run but not when it started (a clock read per
  // argument would cost more than a tiny task): a message seen before or in its first
  // argument is timed from its start, a later argument from when the parent first saw
  // it. Looking every tenth of
  // the timeout bounds that error, at a few loads per worker per look.
  //
  // Each call has the timeout the pool had when it was submitted; a message belongs to
  // one call.
  Clock::time_point enforce_timeouts() {
    next_timeout_ = Clock::time_point::max();
    const auto now = Clock::now();
    for (int w = 0; w < group_->size(); ++w) {
      const auto& q = outstanding_[static_cast<std::size_t>(w)];
      if (q.empty() || !group_->alive(w)) {
        continue;
      }
      const std::chrono::nanoseconds timeout = q.front().job->task_timeout_;
      if (timeout.count() == 0) {
        continue;
      }
      const auto resolution = std::max<Clock::duration>(timeout / 10, kMinTimeoutLook);
      next_timeout_ = std::min(next_timeout_, now + resolution);
      const backends::WorkerGroup::Running r = group_->running(w);
      if (r.tag != q.front().tag) {
        continue;  // between messages
      }
      Watched& seen = watched_[static_cast<std::size_t>(w)];
      if (seen.tag != r.tag || seen.item != r.item) {
        const bool message_start =
            seen.tag != r.tag && (r.item == 0 || r.item == detail::ItemMonitor::kNone);
        seen = Watched{r.tag, r.item, message_start ? r.since : now, false};
      }
      if (now - seen.since >= timeout && !seen.killed) {
        seen.killed = true;
        group_->kill(w, seen.tag, seen.item);
      }
    }
    return next_timeout_;
  }

  int busy_workers() const {
    return static_cast<int>(std::count_if(outstanding_.begin(), outstanding_.end(),
                                          [](const auto& q) { return !q.empty(); }));
  }

  // Tasks sent and not answered, or input not yet sent. O(1): a pool may have a million
  // apply_async calls outstanding.
  bool anything_outstanding() const {
    return tasks_in_flight_ > 0 || !jobs_.empty() || !held_back_.empty();
  }
  // As anything_outstanding(), leaving out input that waits for its caller to take
  // results (an imap whose window is full).
  bool anything_sendable_or_running() const { return tasks_in_flight_ > 0 || !jobs_.empty(); }

  // join(): input an imap still holds back will never be sent; its iteration ends with
  // an error after the results that did arrive.
  void end_unsent_input() {
    for (auto& j : held_back_) {
      if (!j->error_ && !j->exhausted_) {
        j->exhausted_ = true;
        j->error_ = std::make_exception_ptr(std::logic_error(
            "mp: the pool was joined before this imap's input was all sent; the results "
            "before this point are all it produced"));
      }
      settle(j);
    }
    held_back_.clear();
  }

  std::size_t queue_limit() const {
    if (ema_chunk_ns_ <= 0) {
      return 4;
    }
    const double n = std::ceil(kQueuedWorkNs / ema_chunk_ns_);
    return std::clamp(static_cast<std::size_t>(n), kMinQueued, kMaxQueued);
  }

  // How many of the caller's chunks go into one message: enough that a message takes
  // about kBatchTargetNs of worker time, so a chunksize of 1 over tiny tasks does not
  // spend its time on per-message costs (joblib's auto batching). Arguments still run and
  // fail one by one, so merging changes nothing the caller sees but speed.
  std::size_t batch_for(const Job& job) const {
    if (!options_.auto_batch || options_.maxtasksperchild > 0 ||
        options_.cpu_time_limit.count() > 0 || job.item_ns_ <= 0) {
      return 1;
    }
    const double chunk_ns = job.item_ns_ * static_cast<double>(job.chunksize());
    const double batch = std::floor(kBatchTargetNs / chunk_ns);
    const std::size_t max_batch = std::max<std::size_t>(kMaxBatchItems / job.chunksize(), 1);
    return std::clamp(static_cast<std::size_t>(std::max(batch, 1.0)), std::size_t{1}, max_batch);
  }

  int pick_worker() const {
    const std::size_t limit = queue_limit();
    int best = -1;
    std::size_t best_n = limit;
    for (int w = 0; w < group_->size(); ++w) {
      const std::size_t n = outstanding_[static_cast<std::size_t>(w)].size();
      if (n < best_n && group_->alive(w) && group_->has_room(w)) {
        best = w;
        best_n = n;
      }
    }
    return best;
  }

  // Sends chunks while a worker has room. Jobs take turns, one chunk each, in a FIFO:
  // O(1) per chunk however many calls are outstanding.
  void dispatch() {
    if (broken_ || state_ == State::terminated) {
      return;
    }
    // A job held back for its window (imap) may have room again.
    for (auto& j : held_back_) {
      jobs_.push_back(std::move(j));
    }
    held_back_.clear();
    while (!jobs_.empty()) {
      // Held here: sending a large task polls the workers, and a worker that cannot be
      // replaced meanwhile breaks the pool, which fails every job and drops them.
      const std::shared_ptr<Job> held = jobs_.front();
      Job& job = *held;
      if (job.exhausted_ || job.error_) {
        jobs_.pop_front();
        settle(held);
        continue;
      }
      if (!job.can_send()) {
        held_back_.push_back(held);
        jobs_.pop_front();
        continue;
      }
      const int w = pick_worker();
      if (w < 0) {
        return;
      }
      if (job.start_) {
        const bool go = std::exchange(job.start_, nullptr)();
        if (!go) {
          job.exhausted_ = true;
          job.error_ = std::make_exception_ptr(CancelledError("mp: the future was cancelled"));
          continue;
        }
      }
      const std::uint64_t tag = ++next_tag_;
      detail::Writer& out = group_->begin_task(w, tag, job.task_timeout_, *this);
      ChunkRef chunk;
      bool sent = false;
      try {
        sent = job.encode_next(out, chunk, batch_for(job));
      } catch (...) {
        group_->abort_task(w);
        job.exhausted_ = true;
        job.fail_input(std::current_exception());
        continue;
      }
      if (broken_) {  // while this task was being sent; the job has failed with the pool
        group_->abort_task(w);
        return;
      }
      if (!sent) {
        group_->abort_task(w);
        job.exhausted_ = true;
        continue;
      }
      group_->commit_task(w);
      outstanding_[static_cast<std::size_t>(w)].push_back({held, chunk, tag});
      ++job.in_flight_;
      ++tasks_in_flight_;
      if (jobs_.size() > 1 && !job.exhausted_) {
        jobs_.pop_front();
        jobs_.push_back(held);
      }
    }
  }

  void on_result(int slot, std::uint64_t tag, std::uint64_t elapsed_ns, bool ok,
                 detail::Reader& payload) override {
    if (broken_ || state_ == State::terminated) {
      return;  // every pending job has failed already; results still draining are late
    }
    auto& q = outstanding_[static_cast<std::size_t>(slot)];
    if (q.empty() || q.front().tag != tag) {
      break_pool("mp: internal error: a worker answered a task it was not given");
      return;
    }
    Pending p = std::move(q.front());
    q.pop_front();
    --tasks_in_flight_;
    fruitless_[static_cast<std::size_t>(slot)] = 0;
    const double per_chunk = static_cast<double>(elapsed_ns) + 1.0;
    ema_chunk_ns_ = ema_chunk_ns_ <= 0 ? per_chunk : 0.9 * ema_chunk_ns_ + 0.1 * per_chunk;
    Job& job = *p.job;
    const double per_item = per_chunk / std::max<std::uint32_t>(p.chunk.count, 1);
    job.item_ns_ = job.item_ns_ <= 0 ? per_item : 0.8 * job.item_ns_ + 0.2 * per_item;
    --job.in_flight_;
    job.items_done_.fetch_add(p.chunk.count, std::memory_order_relaxed);
    if (!job.error_) {  // else the caller has its error already; late results are dropped
      try {
        if (ok) {
          job.decode_chunk(p.chunk, payload, group_->pid(slot));
        } else {
          job.fail_chunk(p.chunk,
                         serial::decode_task_error(payload, group_->pid(slot), p.chunk.first));
        }
      } catch (...) {
        job.fail_chunk(p.chunk, std::current_exception());
      }
    }
    settle(p.job);
  }

  void on_result_coming(int slot, std::uint64_t tag, std::uint64_t bytes) override {
    const auto& q = outstanding_[static_cast<std::size_t>(slot)];
    if (!broken_ && !q.empty() && q.front().tag == tag && !q.front().job->error_) {
      try {
        q.front().job->prepare_result(bytes);
      } catch (...) {
        // Only a head start (out of memory, say): decoding the result will meet the same
        // condition and report it against the right task.
      }
    }
  }

  void on_exit(int slot, const backends::WorkerExit& e) override {
    auto& q = outstanding_[static_cast<std::size_t>(slot)];
    if (e.running_tag != 0 && !e.rerun && !q.empty() && q.front().tag == e.running_tag) {
      Pending p = std::move(q.front());
      q.pop_front();
      --p.job->in_flight_;
      --tasks_in_flight_;
      p.job->items_done_.fetch_add(p.chunk.count, std::memory_order_relaxed);
      if (e.killed) {
        p.job->fail_chunk(p.chunk, detail::make_timeout_error(e.pid, p.chunk.first));
      } else {
        p.job->fail_chunk(p.chunk, std::make_exception_ptr(WorkerCrashed(e.pid, e.wait_status,
                                                                         p.chunk.first, e.cause)));
      }
      settle(p.job);
    }
    watched_[static_cast<std::size_t>(slot)] = Watched{};
    if (state_ == State::joining || state_ == State::joined || state_ == State::terminated ||
        broken_) {
      return;
    }
    if (e.init_failed) {
      break_pool("mp: the pool's initializer failed in worker pid " + std::to_string(e.pid) + ": " +
                 e.init_error);
      return;
    }
    // A death while running a task is that task's failure; deaths with no task to blame,
    // over and over, mean workers cannot live at all.
    if (!e.retired && e.running_tag == 0 &&
        ++fruitless_[static_cast<std::size_t>(slot)] > kMaxFruitlessRespawns) {
      break_pool(
          "mp: workers keep dying before they finish a task; the pool stopped replacing them");
      return;
    }
    // Forked by the progress thread (see the top of this file), which this may not be.
    respawns_.push_back(slot);
    if (!sys::on_library_thread()) {
      progress_parked_ = false;
      progress_cv_.notify_all();
    }
  }

  void respawn_pending() {
    while (!respawns_.empty() && !broken_ && state_ != State::terminated &&
           state_ != State::joined) {
      const int slot = respawns_.front();
      respawns_.pop_front();
      try {
        group_->respawn(slot);
      } catch (const std::exception& ex) {
        break_pool(std::string("mp: cannot start a replacement worker: ") + ex.what());
      }
    }
    respawns_.clear();
    // The new workers may take the tasks nobody could be given meanwhile.
    dispatch();
    if (followers_ > 0) {
      wake_cv_.notify_all();
    }
    if (sleeper_) {
      group_->wake_sleeper();
    }
  }

  // The pool cannot go on: every pending and future call fails with `why`, and the
  // remaining workers are stopped.
  void break_pool(const std::string& why) {
    broken_ = std::make_exception_ptr(BrokenPool(why));
    fail_everything(broken_);
    group_->signal_all(SIGKILL);
  }

  void fail_everything(const std::exception_ptr& error) {
    auto fail = [&](const std::shared_ptr<Job>& j) {
      if (!j->error_) {
        j->error_ = error;
      }
      settle(j);
    };
    for (auto& q : outstanding_) {
      for (auto& p : q) {
        fail(p.job);
      }
    }
    for (auto& j : jobs_) {
      fail(j);
    }
    for (auto& j : held_back_) {
      fail(j);
    }
    if (state_ == State::terminated || broken_) {
      for (auto& q : outstanding_) {
        for (auto& p : q) {
          --p.job->in_flight_;
        }
        q.clear();
      }
      tasks_in_flight_ = 0;
      jobs_.clear();
      held_back_.clear();
    }
  }

  PoolOptions options_;
  std::unique_ptr<backends::WorkerGroup> group_;
  std::vector<std::deque<Pending>> outstanding_;
  int cores_ = mp::cpu_count();
  std::vector<int> fruitless_;
  static void check_task_timeout(std::chrono::nanoseconds timeout) {
    if (timeout.count() < 0) {
      throw std::invalid_argument("mp: task_timeout must be zero (no limit) or positive, not " +
                                  std::to_string(timeout.count()) + " ns");
    }
  }

  std::chrono::nanoseconds task_timeout_{0};  // given to calls submitted from now on
  // Per slot: the argument last seen running, since when, and whether it was killed for
  // running past task_timeout.
  struct Watched {
    std::uint64_t tag = 0;
    std::uint32_t item = detail::ItemMonitor::kNone;
    Clock::time_point since{};
    bool killed = false;
  };
  std::vector<Watched> watched_;
  Clock::time_point next_timeout_ = Clock::time_point::min();
  // Jobs with input still to send, taking turns; those whose window is full wait aside.
  std::deque<std::shared_ptr<Job>> jobs_;
  std::vector<std::shared_ptr<Job>> held_back_;
  std::uint64_t tasks_in_flight_ = 0;  // entries of outstanding_, all slots
  std::uint64_t next_tag_ = 0;
  double ema_chunk_ns_ = 0;
  State state_ = State::running;
  std::exception_ptr broken_;
  // Finished jobs whose completion (callbacks) has not run yet.
  std::vector<std::shared_ptr<Job>> completed_;
  // Slots whose worker exited and waits for the progress thread to fork a replacement.
  std::deque<int> respawns_;

  // Threads: every member above is guarded by mu_.
  mutable std::mutex mu_;
  int waiters_ = 0;       // threads inside wait()
  bool sleeper_ = false;  // a thread is blocked in the group's sleep
  int followers_ = 0;     // threads waiting on wake_cv_ for the sleeper
  std::condition_variable wake_cv_;
  std::thread progress_;
  std::condition_variable progress_cv_;
  bool progress_parked_ = false;  // asleep until a submit
  bool stop_progress_ = false;
  // Counts submits and callers leaving work behind: the progress thread parks after
  // kLinger without a change (a counter, so the submit path reads no clock).
  std::uint64_t activity_ = 0;
};

}  // namespace
}  // namespace mp::pool

namespace mp::detail {
std::shared_ptr<PoolCore> PoolCore::create(PoolOptions options) {
  // The last owner may let go inside a callback, on the pool's own progress thread; that
  // thread cannot join itself, so another one destroys the engine (its destructor stops
  // and joins the progress thread once the callback has returned).
  return std::shared_ptr<PoolCore>(new pool::PoolEngine(std::move(options)), [](PoolCore* core) {
    if (sys::on_library_thread()) {
      std::thread([core] { delete core; }).detach();
    } else {
      delete core;
    }
  });
}
}  // namespace mp::detail
