// What every fuzzer shares: its seed corpus, written from real messages by the library's
// own encoders, and the types the decoders are fuzzed with.
//
// LLVMFuzzerInitialize writes the seeds into $MP_FUZZ_SEEDS (when set) before libFuzzer
// reads its corpus directories, so `MP_FUZZ_SEEDS=dir fuzz_x dir` starts from them.
#pragma once

#include <cereal/types/string.hpp>
#include <cereal/types/vector.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "mp/detail/bytes.hpp"

namespace mp::fuzz {

// A user type with a cereal serialize(): such items travel framed.
struct Record {
  std::string name;
  std::vector<int> values;
  double weight = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(name, values, weight);
  }
  bool operator==(const Record&) const = default;
};

// Writes one seed file `name` into $MP_FUZZ_SEEDS, if set.
inline void write_seed(const std::string& name, const std::vector<std::byte>& bytes) {
  const char* dir = std::getenv("MP_FUZZ_SEEDS");
  if (dir == nullptr) {
    return;
  }
  std::ofstream out(std::string(dir) + "/seed-" + name, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

// `selector` then the bytes a VectorWriter holds.
inline std::vector<std::byte> with_selector(std::uint8_t selector, const detail::VectorWriter& w) {
  std::vector<std::byte> out{static_cast<std::byte>(selector)};
  out.insert(out.end(), w.data(), w.data() + w.size());
  return out;
}

}  // namespace mp::fuzz
