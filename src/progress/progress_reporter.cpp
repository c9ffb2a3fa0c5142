#include "mp/detail/progress_reporter.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include <fmt/format.h>

#include "progress/progress_format.hpp"
#include "sys/interrupt.hpp"
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

struct TerminalSize {
  int rows = 0;  // 0: not known
  int columns = 80;
};

TerminalSize terminal_size(int fd) {
  TerminalSize size;
  winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) == 0) {
    size.rows = ws.ws_row;
    if (ws.ws_col > 0) {
      size.columns = ws.ws_col;
      return size;
    }
  }
  if (const char* c = std::getenv("COLUMNS")) {
    const int n = std::atoi(c);
    if (n > 0) {
      size.columns = n;
    }
  }
  return size;
}

// A bar pinned to the terminal's last row: the rows above it become the scroll region
// (DECSTBM), where everything else written to the terminal, by any thread or process,
// scrolls without ever reaching the bar's row. Frames save the cursor, draw on the last
// row and restore it. apt draws its progress the same way.

// ESC 7 and ESC 8 (DECSC, DECRC). An octal escape ends after three digits; "\x1b7" would
// read as one hex escape.
constexpr std::string_view kSaveCursor = "\0337";
constexpr std::string_view kRestoreCursor = "\0338";

// Gives up the last row: a new line if the cursor was on it, then the region above it,
// with the cursor where it was (setting a region homes the cursor).
std::string pin_to_last_row(int rows) {
  return fmt::format("\n{}\x1b[1;{}r{}\x1b[1A", kSaveCursor, rows - 1, kRestoreCursor);
}

std::string frame_on_last_row(int rows, const std::string& frame) {
  return fmt::format("{}\x1b[{};1H{}\x1b[K{}", kSaveCursor, rows, frame, kRestoreCursor);
}

// The whole screen scrolls again and the bar's row is blank; the cursor stays in the text.
std::string unpin(int rows) {
  return fmt::format("{}\x1b[r\x1b[{};1H\x1b[K{}", kSaveCursor, rows, kRestoreCursor);
}

// The bar this process shows, for print_above_progress; frames are written under the lock
// so that a line printed above never lands inside one.
struct ShownBar {
  std::mutex m;
  int fd = -1;
  std::string frame;
  bool pinned = false;
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
  } else if (bar.pinned) {
    write_quietly(bar.fd, line);  // the cursor is in the scroll region, above the bar
  } else {
    write_quietly(bar.fd, "\r\x1b[K" + line + bar.frame + "\x1b[K");
  }
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
  bool shown = false;   // a frame is on the terminal, its line not ended
  int pinned_rows = 0;  // the bar is pinned to the last of that many rows
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
    const TerminalSize size = terminal_size(options.fd);
    const std::string frame = progress::format_bar(i, options.label, size.columns);
    ShownBar& bar = shown_bar();
    std::lock_guard lock(bar.m);
    std::string out;
    // A terminal of one row, or of unknown height, gets the bar in the text's own line.
    const int pin_rows = last || size.rows < 2 ? 0 : size.rows;
    if (pinned_rows != pin_rows) {
      if (pinned_rows != 0) {
        out += unpin(size.rows > 0 ? size.rows : pinned_rows);
        sys::clear_farewell();
      }
      if (pin_rows != 0) {
        out += pin_to_last_row(pin_rows);
        sys::set_farewell(options.fd, unpin(pin_rows));
      }
      pinned_rows = pin_rows;
    }
    if (pinned_rows != 0) {
      out += frame_on_last_row(pinned_rows, frame);
    } else {
      out += "\r" + frame + (last ? "\x1b[K\n" : "\x1b[K");
    }
    write_quietly(options.fd, out);
    shown = !last;
    if (last) {
      if (bar.owner == this) {
        bar.owner = nullptr;
      }
    } else {
      bar.owner = this;
      bar.fd = options.fd;
      bar.frame = "\r" + frame;
      bar.pinned = pinned_rows != 0;
    }
  }

  // Ends the bar's line, or blanks its row, when the call left without finish(): an
  // exception, mp::Interrupted for a Ctrl-C included.
  void abandon() noexcept {
    ShownBar& bar = shown_bar();
    std::lock_guard lock(bar.m);
    if (pinned_rows != 0) {
      const int rows = terminal_size(options.fd).rows;
      write_quietly(options.fd, unpin(rows > 0 ? rows : pinned_rows));
      sys::clear_farewell();
      pinned_rows = 0;
    } else if (shown) {
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
