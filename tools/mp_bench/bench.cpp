#include "bench.hpp"

#include <fmt/core.h>
#include <mp/process.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "peers.hpp"

namespace mp_bench {

Stats summarize(std::vector<double> samples) {
  if (samples.empty()) {
    throw std::logic_error("mp-bench: summarize() of no samples");
  }
  std::sort(samples.begin(), samples.end());
  const std::size_t n = samples.size();
  Stats s;
  s.median = n % 2 == 1 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
  s.min = samples.front();
  s.max = samples.back();
  s.repeat = static_cast<int>(n);
  return s;
}

Stats rate_stats(const Stats& seconds, double items) {
  Stats r = seconds;
  r.median = items / seconds.median;
  r.min = items / seconds.max;
  r.max = items / seconds.min;
  return r;
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

std::string json_number(double v) { return std::isfinite(v) ? fmt::format("{}", v) : "null"; }
std::string json_int(long long v) { return fmt::format("{}", v); }
std::string json_uint(unsigned long long v) { return fmt::format("{}", v); }

Context::Context(Options options)
    : options_(std::move(options)),
      repeat_(options_.repeat > 0 ? options_.repeat : (options_.quick ? 3 : 5)),
      plotter_(options_.plot_dir) {}

std::vector<int> Context::workers_or(std::vector<int> fallback) const {
  return options_.workers.empty() ? fallback : options_.workers;
}

const Record& Context::add(Record r) {
  r.subcommand = subcommand_;
  if (!r.ok) {
    failed_ = true;
  }
  records_.push_back(std::move(r));
  return records_.back();
}

void Context::fail(std::string_view what) {
  progress_.clear();
  std::fflush(stdout);
  fmt::print(stderr, "FAILED: {}\n", what);
  failed_ = true;
}

void pause_for_lingering_threads() {
  // libgomp's idle threads spin (GOMP_SPINCOUNT) before they sleep, and live on: they
  // would take CPU from the next measurement, and a Pool does not fork a process that
  // has other threads (its workers would come from the fork server). End them.
  peers::openmp_release_threads();
}

int main_workers(const std::vector<int>& workers) {
  const int cpus = mp::cpu_count();
  int best = 0;
  for (int w : workers) {
    if (w <= cpus) {
      best = std::max(best, w);
    }
  }
  return best > 0 ? best : *std::min_element(workers.begin(), workers.end());
}

std::vector<int> one_to(int n) {
  std::vector<int> v;
  for (int i = 1; i <= n; ++i) {
    v.push_back(i);
  }
  return v;
}

std::string human_seconds(double s) {
  if (!std::isfinite(s)) {
    return "-";
  }
  if (s >= 1) {
    return fmt::format("{:.3f} s", s);
  }
  if (s >= 1e-3) {
    return fmt::format("{:.2f} ms", s * 1e3);
  }
  if (s >= 1e-6) {
    return fmt::format("{:.2f} us", s * 1e6);
  }
  return fmt::format("{:.0f} ns", s * 1e9);
}

std::string human_rate(double r) {
  if (!std::isfinite(r)) {
    return "-";
  }
  if (r >= 1e6) {
    return fmt::format("{:.2f} M/s", r / 1e6);
  }
  if (r >= 1e3) {
    return fmt::format("{:.1f} k/s", r / 1e3);
  }
  return fmt::format("{:.1f} /s", r);
}

std::string short_count(double n) {
  if (n < 1e4) {
    return fmt::format("{:.0f}", n);
  }
  int e = 0;
  double m = n;
  while (m >= 10) {
    m /= 10;
    ++e;
  }
  if (std::abs(m - std::round(m)) < 1e-9) {
    return fmt::format("{:.0f}e{}", m, e);
  }
  return fmt::format("{:g}e{}", m, e);
}

}  // namespace mp_bench
