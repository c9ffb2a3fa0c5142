// Same-run peers for bench_pool.cpp: what the hardware and other task systems cost on
// this machine, so mp's numbers can be judged in context.
//
//   BM_FutexPingPong    two processes over a shared anonymous mapping: the floor of a
//                       cross-process round trip (futex-only, short spin then futex, busy spin)
//   BM_ForkWait         fork + _exit + waitpid of two children: the floor for BM_PoolStartup
//   BM_ThreadPoolApply  a minimal mutex + condvar thread pool, one trivial task round trip
//   BM_TbbTaskGroup     tbb::task_group run + wait of a trivial task
//   BM_StdAsync         std::async(std::launch::async) round trip (a thread per call)
//   BM_MemcpyBandwidth  200 MiB memcpy (warm / into fresh pages / into a new vector): the
//                       floor for BM_PoolLargePayload
#include <benchmark/benchmark.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "mp/detail/codec.hpp"

#ifdef MP_BENCH_HAVE_TBB
#include <tbb/global_control.h>
#include <tbb/task_group.h>

#include <new>
#endif

namespace {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// ---------------------------------------------------------------------------------------
// Futex ping-pong between two processes.

// Shared (non-private) futex calls: the two sides are different address spaces.
void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected) {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT, expected, nullptr,
            nullptr, 0);
}
void futex_wake(std::atomic<std::uint32_t>& word) {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, INT_MAX, nullptr,
            nullptr, 0);
}

// One direction: a sequence number and a "the reader sleeps" flag, so the writer makes
// the wake syscall only when someone sleeps (the same Dekker scheme as src/sys/doorbell.hpp).
struct alignas(64) Channel {
  std::atomic<std::uint32_t> seq{0};
  std::atomic<std::uint32_t> sleeping{0};
};

struct PingPong {
  Channel to_child;
  Channel to_parent;
  std::atomic<std::uint32_t> stop{0};
};

void post(Channel& c, std::uint32_t value) {
  c.seq.store(value, std::memory_order_release);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (c.sleeping.load(std::memory_order_relaxed) != 0) {
    futex_wake(c.seq);
  }
}

// Waits until c.seq differs from `old` and returns it. spin < 0: spin forever; otherwise
// spin that long, then sleep on the futex.
std::uint32_t await_change(Channel& c, std::uint32_t old, std::chrono::nanoseconds spin) {
  std::uint32_t v = c.seq.load(std::memory_order_acquire);
  if (v != old) {
    return v;
  }
  if (spin.count() != 0) {
    const auto until = std::chrono::steady_clock::now() + spin;
    for (unsigned i = 0;; ++i) {
      cpu_relax();
      v = c.seq.load(std::memory_order_acquire);
      if (v != old) {
        return v;
      }
      if (spin.count() > 0 && (i & 15) == 15 && std::chrono::steady_clock::now() >= until) {
        break;
      }
    }
  }
  for (;;) {
    c.sleeping.store(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    v = c.seq.load(std::memory_order_acquire);
    if (v == old) {
      futex_wait(c.seq, old);
      v = c.seq.load(std::memory_order_acquire);
    }
    c.sleeping.store(0, std::memory_order_relaxed);
    if (v != old) {
      return v;
    }
  }
}

void BM_FutexPingPong(benchmark::State& state, std::chrono::nanoseconds spin) {
  void* mem =
      ::mmap(nullptr, sizeof(PingPong), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    state.SkipWithError("mmap failed");
    return;
  }
  auto* pp = new (mem) PingPong;
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child < 0) {
    ::munmap(mem, sizeof(PingPong));
    state.SkipWithError("fork failed");
    return;
  }
  if (child == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(1);
    }
    std::uint32_t seen = 0;
    for (;;) {
      seen = await_change(pp->to_child, seen, spin);
      if (pp->stop.load(std::memory_order_acquire) != 0) {
        ::_exit(0);
      }
      post(pp->to_parent, seen);
    }
  }

  std::uint32_t seq = 0;
  for (auto _ : state) {
    ++seq;
    post(pp->to_child, seq);
    std::uint32_t got = await_change(pp->to_parent, seq - 1, spin);
    if (got != seq) {
      state.SkipWithError("ping-pong out of step");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());

  pp->stop.store(1, std::memory_order_release);
  post(pp->to_child, seq + 1);
  ::kill(child, SIGKILL);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  ::munmap(mem, sizeof(PingPong));
}
BENCHMARK_CAPTURE(BM_FutexPingPong, futex_only, std::chrono::nanoseconds(0))
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_FutexPingPong, spin5us_futex, std::chrono::nanoseconds(5'000))
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_FutexPingPong, busy_spin, std::chrono::nanoseconds(-1))
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// ---------------------------------------------------------------------------------------
// fork + _exit + waitpid of two children: the floor for BM_PoolStartup (which also sets
// up shared memory, runs a first task and shuts the workers down in order).

void BM_ForkWait(benchmark::State& state) {
  constexpr int kChildren = 2;
  for (auto _ : state) {
    pid_t pids[kChildren];
    for (pid_t& pid : pids) {
      pid = ::fork();
      if (pid == 0) {
        ::_exit(0);
      }
      if (pid < 0) {
        state.SkipWithError("fork failed");
        return;
      }
    }
    for (pid_t pid : pids) {
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        state.SkipWithError("child failed");
        return;
      }
    }
  }
}
BENCHMARK(BM_ForkWait)->UseRealTime()->Unit(benchmark::kMicrosecond);

// ---------------------------------------------------------------------------------------
// A minimal mutex + condvar thread pool.

class ThreadPool {
 public:
  explicit ThreadPool(int threads) {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this] { run(); });
    }
  }
  ~ThreadPool() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) {
      t.join();
    }
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  template <class F>
  auto submit(F f) -> std::future<decltype(f())> {
    auto task = std::make_shared<std::packaged_task<decltype(f())()>>(std::move(f));
    auto result = task->get_future();
    {
      std::lock_guard lock(mutex_);
      queue_.emplace_back([task] { (*task)(); });
    }
    cv_.notify_one();
    return result;
  }

 private:
  void run() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) {
          return;
        }
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();
    }
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

void BM_ThreadPoolApply(benchmark::State& state) {
  ThreadPool pool(2);
  int x = 0;
  for (auto _ : state) {
    int y = pool.submit([x] { return x + 1; }).get();
    benchmark::DoNotOptimize(y);
    if (y != x + 1) {
      state.SkipWithError("wrong result");
      break;
    }
    x = y & 0xffff;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ThreadPoolApply)->UseRealTime()->Unit(benchmark::kMicrosecond);

// ---------------------------------------------------------------------------------------
// std::async: a new thread per call.

int add_one(int x) { return x + 1; }

void BM_StdAsync(benchmark::State& state) {
  int x = 0;
  for (auto _ : state) {
    int y = std::async(std::launch::async, add_one, x).get();
    benchmark::DoNotOptimize(y);
    if (y != x + 1) {
      state.SkipWithError("wrong result");
      break;
    }
    x = y & 0xffff;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StdAsync)->UseRealTime()->Unit(benchmark::kMicrosecond);

// ---------------------------------------------------------------------------------------
// 200 MiB memcpy: the floor for BM_PoolLargePayload, which needs at least one such copy
// each way. warm: between pre-faulted buffers (memory bandwidth). fresh_dst: into a newly
// allocated destination each time, as a received std::vector is, so the first-touch page
// faults are paid too (on some VMs they dominate). fresh_vector: a new std::vector copied
// from a 200 MiB buffer in one process, the fastest way mp knows (huge pages populated in
// one call, then one copy): the floor for a result, which the caller gets as a new vector.
enum class CopyInto { warm, fresh_dst, fresh_vector };

void BM_MemcpyBandwidth(benchmark::State& state, CopyInto into) {
  constexpr std::size_t kBytes = std::size_t{200} << 20;
  std::vector<char> src(kBytes, 'a');
  std::vector<char> dst(into == CopyInto::warm ? kBytes : 0, 'b');
  bool ok = true;
  for (auto _ : state) {
    switch (into) {
      case CopyInto::fresh_dst: {
        std::unique_ptr<char[]> fresh(new char[kBytes]);  // uninitialised: untouched pages
        std::memcpy(fresh.get(), src.data(), kBytes);
        benchmark::DoNotOptimize(fresh.get());
        benchmark::ClobberMemory();
        ok = ok && fresh[kBytes - 1] == src[kBytes - 1] && fresh[0] == src[0];
        break;
      }
      case CopyInto::fresh_vector: {
        std::vector<char> fresh;
        fresh.reserve(kBytes);
        mp::detail::prefault_huge_pages(fresh.data(), kBytes);
        fresh.assign(src.begin(), src.end());
        benchmark::DoNotOptimize(fresh.data());
        benchmark::ClobberMemory();
        ok = ok && fresh[kBytes - 1] == src[kBytes - 1] && fresh[0] == src[0];
        break;
      }
      case CopyInto::warm:
        std::memcpy(dst.data(), src.data(), kBytes);
        benchmark::DoNotOptimize(dst.data());
        benchmark::ClobberMemory();
        ok = ok && dst[0] == src[0];
        break;
    }
    src[0] = static_cast<char>(src[0] + 1);
  }
  if (!ok) {
    state.SkipWithError("memcpy did not happen");
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(kBytes));
}
BENCHMARK_CAPTURE(BM_MemcpyBandwidth, warm, CopyInto::warm)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_MemcpyBandwidth, fresh_dst, CopyInto::fresh_dst)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_MemcpyBandwidth, fresh_vector, CopyInto::fresh_vector)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------------------------------
// tbb::task_group. TBB's worker threads would live on once started, and a pool does not
// fork a process that has other threads (it starts its workers from the fork server
// instead): the scheduler is finalized after each run, so that the process benchmarks
// measure fork whatever order they run in.

#ifdef MP_BENCH_HAVE_TBB
void run_task_group(benchmark::State& state) {
  tbb::task_group group;
  int x = 0;
  for (auto _ : state) {
    int y = 0;
    group.run([x, &y] { y = x + 1; });
    group.wait();
    benchmark::DoNotOptimize(y);
    if (y != x + 1) {
      state.SkipWithError("wrong result");
      break;
    }
    x = y & 0xffff;
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_TbbTaskGroup(benchmark::State& state) {
  tbb::task_scheduler_handle scheduler{tbb::attach{}};
  run_task_group(state);
  if (!tbb::finalize(scheduler, std::nothrow)) {
    state.SkipWithError("TBB's worker threads did not end");
  }
}
BENCHMARK(BM_TbbTaskGroup)->UseRealTime()->Unit(benchmark::kMicrosecond);
#endif

}  // namespace
