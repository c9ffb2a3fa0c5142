#include "table.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cstddef>

namespace mp_bench {

namespace {
// Display width: UTF-8 continuation bytes take no column.
std::size_t width(const std::string& s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}
}  // namespace

void Table::print() const {
  std::vector<std::size_t> w(headers_.size(), 0);
  auto measure = [&](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < cells.size() && i < w.size(); ++i) {
      w[i] = std::max(w[i], width(cells[i]));
    }
  };
  measure(headers_);
  for (const auto& r : rows_) {
    measure(r);
  }
  auto print_row = [&](const std::vector<std::string>& cells) {
    std::string line = " ";
    for (std::size_t i = 0; i < w.size(); ++i) {
      const std::string cell = i < cells.size() ? cells[i] : "";
      const std::string pad(w[i] - width(cell), ' ');
      line += "  ";
      line += i == 0 ? cell + pad : pad + cell;
    }
    while (!line.empty() && line.back() == ' ') {
      line.pop_back();
    }
    fmt::print("{}\n", line);
  };
  print_row(headers_);
  std::size_t total = 0;
  for (std::size_t x : w) {
    total += x + 2;
  }
  fmt::print("  {}\n", std::string(total - 1, '-'));
  for (const auto& r : rows_) {
    if (r.empty()) {
      fmt::print("\n");
    } else {
      print_row(r);
    }
  }
}

}  // namespace mp_bench
