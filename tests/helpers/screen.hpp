// What a terminal shows after the bytes a program wrote: a small VT100 screen that knows
// the sequences a progress bar uses (cursor save/restore and moves, erase, scroll
// region). Rows scrolled off the top of a region that starts at the first row go to the
// history, as a terminal's scrollback.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace mp::test {

class Screen {
 public:
  Screen(int rows, int columns)
      : rows_(rows),
        columns_(columns),
        bottom_(rows),
        cells_(static_cast<std::size_t>(rows),
               std::string(static_cast<std::size_t>(columns), ' ')) {}

  void feed(std::string_view bytes) {
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      const char c = bytes[i];
      if (c == '\x1b') {
        i = escape(bytes, i);
      } else if (c == '\r') {
        column_ = 0;
      } else if (c == '\n') {
        line_feed();
      } else if (static_cast<unsigned char>(c) >= 0x20) {
        if (column_ == columns_) {  // a full row wraps when the next character comes
          column_ = 0;
          line_feed();
        }
        cells_[static_cast<std::size_t>(row_)][static_cast<std::size_t>(column_++)] = c;
      } else {
        unknown_.push_back(std::string(1, c));
      }
    }
  }

  // Row r (1-based) of the screen, without its trailing blanks.
  std::string row(int r) const { return trimmed(cells_[static_cast<std::size_t>(r - 1)]); }

  // The history and then every screen row up to the last one that is not blank.
  std::vector<std::string> lines() const {
    std::vector<std::string> all = history_;
    for (int r = 1; r <= rows_; ++r) {
      all.push_back(row(r));
    }
    while (!all.empty() && all.back().empty()) {
      all.pop_back();
    }
    return all;
  }

  bool scrolls_whole() const { return top_ == 0 && bottom_ == rows_; }
  int region_bottom() const { return bottom_; }
  // Control characters and sequences this screen does not know.
  const std::vector<std::string>& unknown() const { return unknown_; }

 private:
  static std::string trimmed(const std::string& s) {
    const std::size_t end = s.find_last_not_of(' ');
    return end == std::string::npos ? std::string() : s.substr(0, end + 1);
  }

  // Down one row, scrolling the region when the cursor is on its last row.
  void line_feed() {
    if (row_ != bottom_ - 1) {
      row_ = std::min(row_ + 1, rows_ - 1);
      return;
    }
    if (top_ == 0) {
      history_.push_back(trimmed(cells_[0]));
    }
    cells_.erase(cells_.begin() + top_);
    cells_.insert(cells_.begin() + (bottom_ - 1),
                  std::string(static_cast<std::size_t>(columns_), ' '));
  }

  // Reads the sequence that starts at `at` (an ESC); returns the index of its last byte.
  std::size_t escape(std::string_view bytes, std::size_t at) {
    if (at + 1 >= bytes.size()) {
      unknown_.push_back("ESC at the end");
      return at;
    }
    const char kind = bytes[at + 1];
    if (kind == '7') {
      saved_row_ = row_;
      saved_column_ = column_;
      return at + 1;
    }
    if (kind == '8') {
      row_ = saved_row_;
      column_ = saved_column_;
      return at + 1;
    }
    if (kind != '[') {
      unknown_.push_back(std::string("ESC ") + kind);
      return at + 1;
    }
    std::vector<int> params{0};
    std::size_t i = at + 2;
    for (; i < bytes.size(); ++i) {
      const char c = bytes[i];
      if (c >= '0' && c <= '9') {
        params.back() = params.back() * 10 + (c - '0');
      } else if (c == ';') {
        params.push_back(0);
      } else {
        break;
      }
    }
    if (i == bytes.size()) {
      unknown_.push_back("unfinished CSI");
      return i - 1;
    }
    const auto param = [&params](std::size_t n, int fallback) {
      return n < params.size() && params[n] > 0 ? params[n] : fallback;
    };
    switch (bytes[i]) {
      case 'A': {
        const int stop = row_ >= top_ ? top_ : 0;
        row_ = std::max(stop, row_ - param(0, 1));
        break;
      }
      case 'H':
      case 'f':
        row_ = std::clamp(param(0, 1), 1, rows_) - 1;
        column_ = std::clamp(param(1, 1), 1, columns_) - 1;
        break;
      case 'K':
        std::fill(cells_[static_cast<std::size_t>(row_)].begin() + column_,
                  cells_[static_cast<std::size_t>(row_)].end(), ' ');
        break;
      case 'J':
        std::fill(cells_[static_cast<std::size_t>(row_)].begin() + column_,
                  cells_[static_cast<std::size_t>(row_)].end(), ' ');
        for (int r = row_ + 1; r < rows_; ++r) {
          cells_[static_cast<std::size_t>(r)].assign(static_cast<std::size_t>(columns_), ' ');
        }
        break;
      case 'r':
        top_ = param(0, 1) - 1;
        bottom_ = std::min(param(1, rows_), rows_);
        row_ = 0;
        column_ = 0;
        break;
      default:
        unknown_.push_back(std::string(bytes.substr(at, i - at + 1)));
    }
    return i;
  }

  int rows_;
  int columns_;
  int row_ = 0;  // 0-based cursor
  int column_ = 0;
  int saved_row_ = 0;
  int saved_column_ = 0;
  int top_ = 0;  // the scroll region: rows [top_, bottom_), 0-based
  int bottom_;
  std::vector<std::string> cells_;
  std::vector<std::string> history_;
  std::vector<std::string> unknown_;
};

}  // namespace mp::test
