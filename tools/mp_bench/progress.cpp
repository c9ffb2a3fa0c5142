#include "progress.hpp"

#include <fmt/core.h>
#include <unistd.h>

#include <cstdio>

namespace mp_bench {

Progress::Progress()
    : tty_(::isatty(STDERR_FILENO) == 1), start_(std::chrono::steady_clock::now()) {}

void Progress::show(std::string_view what, int run, int runs) {
  if (!tty_) {
    return;
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::fflush(stdout);
  if (runs > 1) {
    fmt::print(stderr, "\r\x1b[K[{:6.1f} s] {} ({}/{})", elapsed, what, run, runs);
  } else {
    fmt::print(stderr, "\r\x1b[K[{:6.1f} s] {}", elapsed, what);
  }
  std::fflush(stderr);
  shown_ = true;
}

void Progress::clear() {
  if (shown_) {
    fmt::print(stderr, "\r\x1b[K");
    std::fflush(stderr);
    shown_ = false;
  }
}

}  // namespace mp_bench
