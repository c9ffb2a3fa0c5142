#include "plot.hpp"

#include <fmt/core.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace mp_bench {

std::string gp_quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    out += c;
    if (c == '\'') {
      out += '\'';  // gnuplot doubles a quote inside single quotes
    }
  }
  out += '\'';
  return out;
}

namespace {
// A shell word for std::system.
std::string sh_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

bool write_file(const std::filesystem::path& path, std::string_view text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  return static_cast<bool>(f);
}
}  // namespace

bool Plotter::ensure_dir() {
  if (!dir_ok_) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) {
      fmt::print(stderr, "mp-bench: cannot create plot folder {}: {}; plots skipped\n", dir_,
                 ec.message());
      dir_.clear();
      return false;
    }
    dir_ok_ = true;
  }
  return true;
}

bool Plotter::plot(std::string_view name, std::string_view csv, std::string_view script, int width,
                   int height) {
  if (!enabled() || !ensure_dir()) {
    return false;
  }
  const std::filesystem::path dir(dir_);
  const auto csv_path = dir / fmt::format("{}.csv", name);
  const auto gp_path = dir / fmt::format("{}.gp", name);
  const auto png_path = dir / fmt::format("{}.png", name);
  if (!write_file(csv_path, csv)) {
    fmt::print(stderr, "mp-bench: cannot write {}; plot skipped\n", csv_path.string());
    return false;
  }
  const std::string full = fmt::format(
      "set terminal pngcairo size {},{} enhanced font 'Sans,11'\n"
      "set output {}\n"
      "set datafile separator ','\n"
      "set datafile columnheaders\n"
      "csv = {}\n"
      "set grid\n"
      "{}",
      width, height, gp_quote(png_path.string()), gp_quote(csv_path.string()), script);
  if (!write_file(gp_path, full)) {
    fmt::print(stderr, "mp-bench: cannot write {}; plot skipped\n", gp_path.string());
    return false;
  }
  if (gnuplot_ < 0) {
    gnuplot_ = std::system("command -v gnuplot >/dev/null 2>&1") == 0 ? 1 : 0;
    if (gnuplot_ == 0) {
      fmt::print(stderr,
                 "mp-bench: gnuplot not found (Debian: gnuplot-nox); plots skipped, their CSV "
                 "files are in {}\n",
                 dir_);
    }
  }
  if (gnuplot_ == 0) {
    return false;
  }
  std::fflush(stdout);
  const int rc = std::system(fmt::format("gnuplot {} 2>&1", sh_quote(gp_path.string())).c_str());
  if (rc != 0) {
    fmt::print(stderr, "mp-bench: gnuplot failed on {}\n", gp_path.string());
    return false;
  }
  return true;
}

}  // namespace mp_bench
