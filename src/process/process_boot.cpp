#include "process/process_boot.hpp"

#include <cstdint>
#include <stdexcept>
#include <tuple>
#include <utility>

#include "mp/detail/codec.hpp"

namespace mp::process {
namespace {

using BootFields = std::tuple<std::string,              // name
                              std::uint8_t,             // daemon: 0 or 1
                              int,                      // report pipe fd
                              std::vector<std::byte>>;  // the encoded target

}  // namespace

std::vector<std::byte> encode_process_boot(const ProcessBoot& boot) {
  const BootFields fields{boot.name, static_cast<std::uint8_t>(boot.daemon ? 1 : 0), boot.report_fd,
                          boot.target};
  detail::VectorWriter w;
  detail::encode(w, fields);
  return {w.data(), w.data() + w.size()};
}

ProcessBoot decode_process_boot(const std::vector<std::byte>& blob) {
  BootFields fields;
  detail::Reader r(blob.data(), blob.size());
  detail::decode(r, fields);
  if (!r.at_end()) {
    throw std::runtime_error("mp: process start-up data has bytes left over");
  }
  auto& [name, daemon, report_fd, target] = fields;
  if (daemon > 1 || report_fd < 0) {
    throw std::runtime_error("mp: process start-up data out of range");
  }
  return {std::move(name), daemon == 1, report_fd, std::move(target)};
}

}  // namespace mp::process
