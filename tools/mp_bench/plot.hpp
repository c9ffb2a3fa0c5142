// PNG plots through gnuplot, fed by CSV files written next to them (so the numbers behind
// every plot can be read or re-plotted). Without --plot nothing is written; without
// gnuplot the CSV files are still written and one notice says the plots were skipped.
#pragma once

#include <string>
#include <string_view>

namespace mp_bench {

class Plotter {
 public:
  // dir empty: plotting is off.
  explicit Plotter(std::string dir) : dir_(std::move(dir)) {}
  bool enabled() const { return !dir_.empty(); }

  // Writes <dir>/<name>.csv and <dir>/<name>.gp and runs gnuplot to draw <dir>/<name>.png.
  // In `script`, the gnuplot variable `csv` names the CSV file; the terminal, output and
  // CSV separator are set already. Returns false (after a notice) if nothing was drawn.
  bool plot(std::string_view name, std::string_view csv, std::string_view script, int width = 960,
            int height = 600);

 private:
  bool ensure_dir();
  std::string dir_;
  int gnuplot_ = -1;  // unknown, 0 missing, 1 present
  bool dir_ok_ = false;
};

// A gnuplot string literal (single-quoted).
std::string gp_quote(std::string_view s);

}  // namespace mp_bench
