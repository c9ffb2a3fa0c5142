// Futex wait/wake on words in memory shared between processes.
//
// Deliberately not FUTEX_PRIVATE_FLAG (and not std::atomic::wait, which libstdc++ builds
// on private futexes): a private futex is keyed by the waiter's address space and never
// wakes a waiter in another process.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace mp::sys {

// Sleeps while *word == expected, at most `timeout` (negative: no limit). Returns on
// wake-up, timeout, signal or value mismatch; callers re-check their condition.
void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
                std::chrono::nanoseconds timeout);
void futex_wake_all(std::atomic<std::uint32_t>& word) noexcept;
// Wakes at most `count` waiters.
void futex_wake(std::atomic<std::uint32_t>& word, int count) noexcept;

// A pause hint for spin loops.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

}  // namespace mp::sys
