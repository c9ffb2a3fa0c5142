// The progress display of one map call, driven by the calling thread while it waits.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include "mp/progress.hpp"

namespace mp::detail {

class ProgressReporter {
 public:
  // `total` 0: not known. Draws nothing yet.
  ProgressReporter(const Progress& options, std::size_t total);
  // Ends a bar's line if finish() was not reached (the call threw).
  ~ProgressReporter();
  ProgressReporter(const ProgressReporter&) = delete;
  ProgressReporter& operator=(const ProgressReporter&) = delete;

  // How long the caller may wait for results between two update() calls.
  std::chrono::nanoseconds poll_interval() const;
  // Redraws and calls back if their intervals have passed; cheap otherwise (a clock read).
  void update(std::size_t done);
  // The last report: drawn and called back whatever the intervals.
  void finish(std::size_t done);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

// Waits for `result` (anything with wait(duration) -> bool) while reporting `done()`.
template <class Waitable, class DoneCount>
void wait_with_progress(Waitable& result, DoneCount done, const Progress& options,
                        std::size_t total) {
  ProgressReporter reporter(options, total);
  while (!result.wait(reporter.poll_interval())) {
    reporter.update(done());
  }
  reporter.finish(done());
}

}  // namespace mp::detail
