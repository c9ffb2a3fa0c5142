// A timeout turned into a deadline on the steady clock, as every timed call in mp takes
// it: zero or negative means "do not wait" (Python's join(-1), acquire(timeout=-1) with
// block=False aside), and one too long for the clock to hold means "no deadline".
#pragma once

#include <chrono>

namespace mp::detail {

using SteadyClock = std::chrono::steady_clock;

template <class Rep, class Period>
SteadyClock::time_point deadline_after(std::chrono::duration<Rep, Period> timeout) {
  if (timeout <= timeout.zero()) {
    return SteadyClock::now();
  }
  if (std::chrono::duration<double>(timeout) > std::chrono::hours(24 * 365 * 100)) {
    return SteadyClock::time_point::max();
  }
  return SteadyClock::now() +
         std::chrono::ceil<SteadyClock::duration>(std::chrono::duration<double, Period>(timeout));
}

}  // namespace mp::detail
