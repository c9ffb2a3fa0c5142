// Fuzzes the value codec: every decoder a queue, a pipe, a task argument or a result goes
// through, for plain types (mp's own bulk codec) and a cereal type. The first byte picks
// the type; a malformed message must be a clear exception, never a crash, an overflow or
// an allocation of the size it claims.
#include <cereal/types/map.hpp>
#include <cereal/types/tuple.hpp>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "fuzz_support.hpp"
#include "mp/detail/codec.hpp"

namespace {

using mp::fuzz::Record;
using Tuple = std::tuple<int, std::string, std::vector<double>>;
using Map = std::map<std::string, std::vector<int>>;

template <class T>
void decode_one(const std::byte* p, std::size_t n) {
  try {
    const T v = mp::detail::decode_message<T>(p, n);
    (void)v;
  } catch (const std::exception&) {
  }
}

template <class T>
void seed(std::uint8_t selector, const char* name, const T& v) {
  mp::detail::VectorWriter w;
  mp::detail::encode(w, v);
  mp::fuzz::write_seed(name, mp::fuzz::with_selector(selector, w));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  seed(0, "int", 42);
  seed(1, "vector-int", std::vector<int>{1, 2, 3, 4, 5});
  seed(2, "string", std::string("a string long enough to be interesting"));
  seed(3, "vector-string", std::vector<std::string>{"one", "", "three"});
  seed(4, "tuple", Tuple{7, "seven", {7.5, 0.25}});
  seed(5, "map", Map{{"a", {1}}, {"bc", {2, 3}}});
  seed(6, "record", Record{"name", {4, 5, 6}, 1.5});
  seed(7, "vector-record", std::vector<Record>{{"x", {}, 0}, {"y", {1}, 2}});
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const auto* p = reinterpret_cast<const std::byte*>(data) + 1;
  const std::size_t n = size - 1;
  switch (data[0] % 8) {
    case 0:
      decode_one<int>(p, n);
      break;
    case 1:
      decode_one<std::vector<int>>(p, n);
      break;
    case 2:
      decode_one<std::string>(p, n);
      break;
    case 3:
      decode_one<std::vector<std::string>>(p, n);
      break;
    case 4:
      decode_one<Tuple>(p, n);
      break;
    case 5:
      decode_one<Map>(p, n);
      break;
    case 6:
      decode_one<Record>(p, n);
      break;
    default:
      decode_one<std::vector<Record>>(p, n);
      break;
  }
  return 0;
}
