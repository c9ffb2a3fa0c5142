// Progress of a long map: a bar on a terminal, plain lines in a log, or a callback.
//
//   auto ys = pool.map(f, xs, mp::Progress{});               // a bar on stderr
//   auto zs = thread_pool.map(f, xs, 64, mp::Progress{.label = "resize"});
//   mp::Parallel p({.n_jobs = -1, .verbose = 1});            // joblib's verbose
//   pool.map(f, xs, mp::Progress{.show = false,              // a program's own display
//                                .callback = [](const mp::ProgressInfo& i) { ... }});
//
// On a terminal the bar is redrawn in place at most every `interval`:
//
//   resize  45%|#############                | 450/1000 [00:01<00:01, 350/s]
//
// When the stream is not a terminal (a pipe, a file, CI's log) a plain line is written
// every `line_interval` instead, and one at the end:
//
//   resize: 450/1000 (45%) in 1.3 s, 350/s, 1.6 s left
//
// On a terminal of two rows or more the bar is pinned to the last row, and everything
// else written to the terminal meanwhile (std::cout, other threads, worker processes)
// scrolls in the rows above it, so output and bar never share a line. When the map ends
// the bar's last frame becomes an ordinary line; when it leaves early (an exception, or
// Ctrl-C and SIGTERM at their default action) the row is blanked; either way the terminal
// scrolls whole again. Each redraw is one write(). print_above_progress() writes a line
// above the bar from any thread, and also works on a one-row terminal, where the bar is
// drawn in the text's own line.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace mp {

// Where a map is, as given to a progress callback.
struct ProgressInfo {
  std::size_t done = 0;   // arguments whose results (or errors) are in
  std::size_t total = 0;  // all of them; 0 when not known
  std::chrono::nanoseconds elapsed{0};
  bool finished = false;  // the last report of the call (also after a failure)

  // Arguments per second so far (0 before the first one).
  double rate() const;
  // Time left at the rate so far; none while unknown.
  std::optional<std::chrono::nanoseconds> eta() const;
};

struct Progress {
  // Draw on `fd` (stderr): a bar on a terminal, lines otherwise. False: only `callback`.
  bool show = true;
  // Called on the calling thread at most every `interval`, and once with
  // `finished` at the end. An exception it throws leaves the call: the tasks already sent
  // still run, their results are dropped.
  std::function<void(const ProgressInfo&)> callback{};
  // Shown before the bar or line.
  std::string label{};
  // Least time between two redraws of the bar, or two calls of `callback`.
  std::chrono::milliseconds interval{100};
  // Least time between two plain lines (not a terminal).
  std::chrono::milliseconds line_interval{1000};
  int fd = 2;
};

// Writes `text` (a newline is added if missing) to the terminal of the progress bar being
// drawn by this process, above the bar, which is then drawn again; with no bar shown, to
// stderr. Safe from any thread.
void print_above_progress(std::string_view text);

}  // namespace mp
