#include "progress/progress_format.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace mp::progress {

namespace {

std::int64_t whole_seconds(std::chrono::nanoseconds d) {
  return std::max<std::int64_t>(std::chrono::duration_cast<std::chrono::seconds>(d).count(), 0);
}

// 100 % only when every argument is in: rounding up would claim it early.
std::size_t percent(const ProgressInfo& info) {
  return info.done >= info.total ? 100 : info.done * 100 / info.total;
}

}  // namespace

std::string format_clock(std::chrono::nanoseconds d) {
  const std::int64_t s = whole_seconds(d);
  if (s >= 3600) {
    return fmt::format("{}:{:02d}:{:02d}", s / 3600, s / 60 % 60, s % 60);
  }
  return fmt::format("{:02d}:{:02d}", s / 60, s % 60);
}

std::string format_duration(std::chrono::nanoseconds d) {
  const double seconds = std::max(std::chrono::duration<double>(d).count(), 0.0);
  if (seconds < 10) {
    return fmt::format("{:.1f} s", seconds);
  }
  const std::int64_t s = whole_seconds(d);
  if (s < 60) {
    return fmt::format("{} s", s);
  }
  if (s < 3600) {
    return fmt::format("{} min {:02d} s", s / 60, s % 60);
  }
  return fmt::format("{} h {:02d} min", s / 3600, s / 60 % 60);
}

std::string format_rate(double per_second) {
  if (!std::isfinite(per_second) || per_second <= 0) {
    return "0";
  }
  if (per_second < 10) {
    return fmt::format("{:.2g}", per_second);
  }
  if (per_second < 1e3) {
    return fmt::format("{:.0f}", per_second);
  }
  static constexpr const char* kUnits[] = {"k", "M", "G", "T"};
  double v = per_second;
  const char* unit = "";
  for (const char* u : kUnits) {
    if (v < 1e3) {
      break;
    }
    v /= 1e3;
    unit = u;
  }
  return fmt::format("{:.{}f}{}", v, v < 10 ? 2 : v < 100 ? 1 : 0, unit);
}

std::string format_bar(const ProgressInfo& info, std::string_view label, int columns) {
  const std::string prefix = label.empty() ? std::string() : fmt::format("{} ", label);
  const std::string rate = format_rate(info.rate());
  const std::size_t room = static_cast<std::size_t>(std::max(columns - 1, 1));
  std::string frame;
  if (info.total == 0) {
    frame = fmt::format("{}{} [{}, {}/s]", prefix, info.done, format_clock(info.elapsed), rate);
  } else {
    const auto eta = info.eta();
    const std::string left = fmt::format("{}{:3d}%|", prefix, percent(info));
    const std::string right =
        fmt::format("| {}/{} [{}<{}, {}/s]", info.done, info.total, format_clock(info.elapsed),
                    eta ? format_clock(*eta) : std::string("?"), rate);
    const std::size_t used = left.size() + right.size();
    if (used + 4 <= room) {
      const std::size_t width = std::min<std::size_t>(room - used, 60);
      const std::size_t filled =
          std::min(info.done, info.total) * width / std::max<std::size_t>(info.total, 1);
      frame = left + std::string(filled, '#') + std::string(width - filled, ' ') + right;
    } else {
      // Too narrow for a bar: the numbers alone.
      frame = fmt::format("{}{:3d}% {}/{}", prefix, percent(info), info.done, info.total);
    }
  }
  if (frame.size() > room) {
    frame.resize(room);
  }
  return frame;
}

std::string format_line(const ProgressInfo& info, std::string_view label) {
  const std::string prefix = label.empty() ? std::string() : fmt::format("{}: ", label);
  const std::string rate = format_rate(info.rate());
  const std::string took = format_duration(info.elapsed);
  if (info.total == 0) {
    return fmt::format("{}{} done in {}, {}/s", prefix, info.done, took, rate);
  }
  std::string line = fmt::format("{}{}/{} ({}%) done in {}, {}/s", prefix, info.done, info.total,
                                 percent(info), took, rate);
  if (!info.finished) {
    if (const auto eta = info.eta()) {
      line += fmt::format(", about {} left", format_duration(*eta));
    }
  }
  return line;
}

}  // namespace mp::progress
