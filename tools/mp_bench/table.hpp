// Plain-text tables for the terminal: the first column left-aligned, the others right.
#pragma once

#include <string>
#include <vector>

namespace mp_bench {

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  // An empty line between groups of rows.
  void separator() { rows_.emplace_back(); }
  // Prints to stdout, indented by two spaces.
  void print() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace mp_bench
