#include "json_writer.hpp"

#include <fmt/core.h>

#include <cstdio>
#include <fstream>

namespace mp_bench {

namespace {
std::string object(const Params& p) {
  std::string out = "{";
  bool first = true;
  for (const auto& [key, value] : p.members()) {
    out += fmt::format("{}{}: {}", first ? "" : ", ", json_string(key), value);
    first = false;
  }
  return out + "}";
}
}  // namespace

std::string to_json(const std::vector<Record>& records) {
  std::string out = "[\n";
  for (std::size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    out += fmt::format(
        "  {{\"experiment\": {}, \"variant\": {}, \"backend\": {}, \"workers\": {}, "
        "\"params\": {}, \"unit\": {}, \"median\": {}, \"min\": {}, \"max\": {}, "
        "\"repeat\": {}, \"answer\": {}, \"ok\": {}, \"subcommand\": {}}}{}\n",
        json_string(r.experiment), json_string(r.variant), json_string(r.backend), r.workers,
        object(r.params), json_string(r.unit), json_number(r.stats.median),
        json_number(r.stats.min), json_number(r.stats.max), r.stats.repeat, r.answer,
        json_bool(r.ok), json_string(r.subcommand), i + 1 < records.size() ? "," : "");
  }
  return out + "]\n";
}

bool write_json(const std::string& path, const std::vector<Record>& records) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << to_json(records);
  f.close();
  if (!f) {
    fmt::print(stderr, "mp-bench: cannot write {}\n", path);
    return false;
  }
  return true;
}

}  // namespace mp_bench
