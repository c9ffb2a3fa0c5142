// A one-line progress indication on stderr, for runs that take a while: what is being
// measured, which repeat, and the elapsed time. Only when stderr is a terminal (a log
// file gets the tables alone).
#pragma once

#include <chrono>
#include <string_view>

namespace mp_bench {

class Progress {
 public:
  Progress();
  // "[  12.3 s] pi: pool.map, 2 workers (2/3)", overwriting the previous line.
  void show(std::string_view what, int run = 0, int runs = 0);
  // Erases the line, before anything else is printed.
  void clear();

 private:
  bool tty_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace mp_bench
