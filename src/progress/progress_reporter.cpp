#include "mp/detail/progress_reporter.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "progress/progress_format.hpp"
#include "sys/unique_fd.hpp"

namespace mp {

double ProgressInfo::rate() const {
  const double seconds = std::chrono::duration<double>(elapsed).count();
  return seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
}

std::optional<std::chrono::nanoseconds> ProgressInfo::eta() const {
  if (total == 0) {
    return std::nullopt;
  }
  if (done >= total) {
    return std::chrono::nanoseconds(0);
  }
  const double r = rate();
  if (done == 0 || r <= 0) {
    return std::nullopt;
  }
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(static_cast<double>(total - done) / r));
}

namespace {

using Clock = std::chrono::steady_clock;

// A display must never fail the call it reports on: a closed or full stream loses frames.
void write_quietly(int fd, const std::string& text) noexcept {
  try {
    sys::write_full(fd, text.data(), text.size());
  } catch (...) {
  }
}

bool is_terminal(int fd) {
  if (::isatty(fd) != 1) {
    return false;
  }
  const char* term = std::getenv("TERM");
  return term == nullptr || std::strcmp(term, "dumb") != 0;
}

int terminal_columns(int fd) {
  winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    return ws.ws_col;
  }
  if (const char* c = std::getenv("COLUMNS")) {
    const int n = std::atoi(c);
    if (n > 0) {
      return n;
    }
  }
  return 80;
}

// The bar this process shows, for print_above_progress; frames are written under the lock
// so that a line printed above never lands inside one.
struct ShownBar {
  std::mutex m;
  int fd = -1;
  std::string frame;
  const void* owner = nullptr;
};
ShownBar& shown_bar() {
  static ShownBar* bar = new ShownBar;  // outlives static destruction: threads may still draw
  return *bar;
}

}  // namespace

void print_above_progress(std::string_view text) {
  std::string line(text);
  if (line.empty() || line.back() != '\n') {
    line += '\n';
  }
  ShownBar& bar = shown_bar();
  std::lock_guard lock(bar.m);
  if (bar.owner == nullptr) {
    write_quietly(2, line);
    return;
  }
  write_quietly(bar.fd, "\r\x1b[K" + line + bar.frame + "\x1b[K");
}

namespace detail {

struct ProgressReporter::State {
  Progress options;
  std::size_t total = 0;
  Clock::time_point start = Clock::now();
  Clock::time_point last_frame{};
  Clock::time_point last_line{};
  Clock::time_point last_call{};
  bool terminal = false;
  bool shown = false;  // a frame is on the terminal, its line not ended
  bool finished = false;

  ProgressInfo info(std::size_t done, bool last) const {
    return {.done = done,
            .total = total,
            .elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start),
            .finished = last};
  }

  void draw(const ProgressInfo& i, bool last) {
    if (!terminal) {
      write_quietly(options.fd, progress::format_line(i, options.label) + '\n');
      return;
    }
    std::string frame = progress::format_bar(i, options.label, terminal_columns(options.fd));
    ShownBar& bar = shown_bar();
    std::lock_guard lock(bar.m);
    write_quietly(options.fd, "\r" + frame + (last ? "\x1b[K\n" : "\x1b[K"));
    shown = !last;
    if (last) {
      if (bar.owner == this) {
        bar.owner = nullptr;
      }
    } else {
      bar.owner = this;
      bar.fd = options.fd;
      bar.frame = "\r" + frame;
    }
  }

  // Ends the bar's line and forgets it, when the call left without finish().
  void abandon() noexcept {
    ShownBar& bar = shown_bar();
    std::lock_guard lock(bar.m);
    if (shown) {
      write_quietly(options.fd, "\n");
    }
    if (bar.owner == this) {
      bar.owner = nullptr;
    }
  }
};

ProgressReporter::ProgressReporter(const Progress& options, std::size_t total)
    : s_(std::make_unique<State>()) {
  s_->options = options;
  s_->total = total;
  s_->terminal = options.show && is_terminal(options.fd);
  s_->last_frame = s_->last_line = s_->last_call = s_->start;
}

ProgressReporter::~ProgressReporter() {
  if (!s_->finished) {
    s_->abandon();
  }
}

std::chrono::nanoseconds ProgressReporter::poll_interval() const {
  const Progress& o = s_->options;
  std::chrono::nanoseconds wait = std::chrono::seconds(1);
  if (o.show) {
    wait = std::min<std::chrono::nanoseconds>(wait, s_->terminal ? o.interval : o.line_interval);
  }
  if (o.callback) {
    wait = std::min<std::chrono::nanoseconds>(wait, o.interval);
  }
  return std::max<std::chrono::nanoseconds>(wait, std::chrono::milliseconds(1));
}

void ProgressReporter::update(std::size_t done) {
  State& s = *s_;
  const Clock::time_point now = Clock::now();
  const Progress& o = s.options;
  const bool frame_due = o.show && (s.terminal ? now - s.last_frame >= o.interval
                                               : now - s.last_line >= o.line_interval);
  const bool call_due = o.callback && now - s.last_call >= o.interval;
  if (!frame_due && !call_due) {
    return;
  }
  const ProgressInfo info = s.info(done, false);
  if (frame_due) {
    s.draw(info, false);
    (s.terminal ? s.last_frame : s.last_line) = now;
  }
  if (call_due) {
    s.last_call = now;
    o.callback(info);
  }
}

void ProgressReporter::finish(std::size_t done) {
  State& s = *s_;
  s.finished = true;
  const ProgressInfo info = s.info(done, true);
  if (s.options.show) {
    s.draw(info, true);
  }
  if (s.options.callback) {
    s.options.callback(info);
  }
}

}  // namespace detail
}  // namespace mp
