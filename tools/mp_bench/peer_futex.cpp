// The floor of a cross-process round trip: two processes, one shared anonymous mapping,
// spin-then-futex wake-ups. mp's pool does this plus framing, serialization and task
// bookkeeping, so its apply round trip can approach this number but not beat it.
#include <linux/futex.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <new>

#include "peers.hpp"

namespace mp_bench::peers {

namespace {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Non-private futex calls: the two sides are different address spaces (libstdc++'s
// atomic wait/notify use private futexes, which would not wake the other process).
void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected) {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT, expected, nullptr,
            nullptr, 0);
}
void futex_wake(std::atomic<std::uint32_t>& word) {
  ::syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE, INT_MAX, nullptr,
            nullptr, 0);
}

// One direction: a sequence number and a "the reader sleeps" flag, so that the writer
// makes the wake syscall only when someone sleeps.
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

// Waits until c.seq differs from `old`: spins for `spin`, then sleeps on the futex.
std::uint32_t await_change(Channel& c, std::uint32_t old, std::chrono::nanoseconds spin) {
  std::uint32_t v = c.seq.load(std::memory_order_acquire);
  if (v != old) {
    return v;
  }
  const auto until = std::chrono::steady_clock::now() + spin;
  for (unsigned i = 0;; ++i) {
    cpu_relax();
    v = c.seq.load(std::memory_order_acquire);
    if (v != old) {
      return v;
    }
    if ((i & 15) == 15 && std::chrono::steady_clock::now() >= until) {
      break;
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

}  // namespace

RoundTrips futex_ping_pong(int n, std::chrono::nanoseconds spin) {
  void* mem =
      ::mmap(nullptr, sizeof(PingPong), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    return {};
  }
  auto* pp = new (mem) PingPong;
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child < 0) {
    ::munmap(mem, sizeof(PingPong));
    return {};
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

  RoundTrips out;
  out.ok = true;
  std::uint32_t seq = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    ++seq;
    post(pp->to_child, seq);
    if (await_change(pp->to_parent, seq - 1, spin) != seq) {
      out.ok = false;
      break;
    }
  }
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / n;

  pp->stop.store(1, std::memory_order_release);
  post(pp->to_child, seq + 1);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  out.ok = out.ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  ::munmap(mem, sizeof(PingPong));
  return out;
}

}  // namespace mp_bench::peers
