// Ctrl-C (SIGINT) and SIGTERM while a caller is blocked inside mp.
//
// Without this, a signal whose action is the default kills the parent in the middle of a
// wait, and the caller never learns which call was interrupted. While an InterruptWatch
// lives, such a signal only records itself; the blocked call sees it through take() and
// throws mp::Interrupted, after stopping what it was waiting for.
//
// Only signals whose action is the default are watched: an application that installed
// its own handler (or ignores the signal) keeps it. When the last watch ends, a signal
// that arrived and was not taken is raised again with its default action, so a Ctrl-C
// is never swallowed.
#pragma once

#include <string_view>

namespace mp::sys {

class InterruptWatch {
 public:
  InterruptWatch();
  ~InterruptWatch();
  InterruptWatch(const InterruptWatch&) = delete;
  InterruptWatch& operator=(const InterruptWatch&) = delete;

  // The watched signal that arrived (SIGINT or SIGTERM) and was not taken yet, or 0;
  // taking it means the caller reports it.
  static int take() noexcept;

  // In a child just forked while a watch was live: gives the watched signals their
  // default action back, so that SIGTERM from the pool stops a worker at once.
  static void reset_in_child() noexcept;
};

// Bytes to write to `fd` if SIGINT or SIGTERM is about to end the process by its default
// action: a terminal's scroll region to reset, say. One slot for the process; a second
// set() replaces the first. While it is set, those signals (when left at the default)
// get a handler that writes the bytes and dies of the signal as before; an InterruptWatch
// still treats them as default, and children reset them (reset_in_child). At most 255
// bytes are kept.
void set_farewell(int fd, std::string_view bytes);
void clear_farewell();

}  // namespace mp::sys
