// A wake-up flag in shared memory that costs nothing while its owner is awake.
//
// Waking a sleeping process on another core costs 20-50 us on the machines we measure,
// while a producer that finds the consumer awake pays one load. So the owner spins
// briefly, then announces that it sleeps (sleeping = 1), re-checks its condition and
// only then blocks; a producer rings only when it sees the flag. The fences make the
// two sides' store-then-load sequences sequentially consistent (Dekker), so a wake-up
// cannot slip between the owner's re-check and its sleep.
//
// The owner sleeps on the futex word itself, or, when `eventfd` is set, in epoll on that
// eventfd (the parent waits on results and on child exits together that way). A ringer
// writes to the eventfd through the same number in its own process, after checking that
// the number still names that eventfd: a task may have closed it and opened a file of its
// own there. A ringer that finds it gone does not ring (an owner that waits on an eventfd
// must also look on its own now and then, as a pool's parent does every millisecond) and
// notes the loss (sys::lost_descriptor) for its process to act on.
#pragma once

#include <atomic>
#include <cstdint>

#include "sys/futex.hpp"
#include "sys/unique_fd.hpp"

namespace mp::sys {

struct Doorbell {
  std::atomic<std::uint32_t> sleeping{0};
  int eventfd = -1;
  FileIdentity eventfd_file;  // what `eventfd` names

  // Owner side: sleeps in epoll on `fd` from now on.
  void use_eventfd(int fd) {
    eventfd_file = identity_of(fd);
    eventfd = fd;
  }

  void ring() noexcept {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    ring_if_sleeping();
  }
  // For a ringer that has just published with an atomic exchange (a lock's release): on
  // x86 that is already the full barrier ring() needs, and a second one costs the writer
  // of a busy queue about a tenth of its time.
  void ring_after_exchange() noexcept {
#if !defined(__x86_64__) && !defined(__i386__)
    std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
    ring_if_sleeping();
  }
  void ring_if_sleeping() noexcept {
    if (sleeping.load(std::memory_order_relaxed) != 0) {
      sleeping.store(0, std::memory_order_relaxed);
      if (eventfd < 0) {
        futex_wake_all(sleeping);
      } else if (names_file(eventfd, eventfd_file)) {
        signal_eventfd(eventfd);
      } else {
        note_lost_descriptor(eventfd);
      }
    }
  }

  // Owner side: announce the sleep; the caller must re-check its condition afterwards.
  void prepare_sleep() noexcept {
    sleeping.store(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
  }
  void cancel_sleep() noexcept { sleeping.store(0, std::memory_order_relaxed); }

  // Owner side, futex flavour: sleeps until rung or timeout (negative: none).
  void sleep(std::chrono::nanoseconds timeout) {
    futex_wait(sleeping, 1, timeout);
    sleeping.store(0, std::memory_order_relaxed);
  }
};

}  // namespace mp::sys
