// The text of a progress display: pure functions of the numbers, tested on their own.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "mp/progress.hpp"

namespace mp::progress {

// "00:07", "12:34", "1:02:03": a bar's clock.
std::string format_clock(std::chrono::nanoseconds d);
// "0.4 s", "12 s", "3 min 05 s", "2 h 01 min": a log line's duration.
std::string format_duration(std::chrono::nanoseconds d);
// "0.5", "350", "12.3k", "4.56M": a count per second.
std::string format_rate(double per_second);
// One frame of the bar, at most `columns - 1` characters (the last column is left empty:
// writing it makes some terminals wrap).
std::string format_bar(const ProgressInfo& info, std::string_view label, int columns);
// One log line, without its newline.
std::string format_line(const ProgressInfo& info, std::string_view label);

}  // namespace mp::progress
