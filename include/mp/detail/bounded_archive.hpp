// The archive cereal-coded values are read with: cereal's binary format, read by the
// rules of cereal's BinaryInputArchive, except that a container's size is checked against
// the bytes the message has left before the container is made that large.
//
// cereal's own archive resizes a vector, a string or a map to the size it reads, then
// reads the elements: a garbled message that claims 10^12 elements has it allocate (and
// zero) that much before the missing bytes are noticed. Every element this format writes
// takes at least one byte, except elements of an empty class, so no valid message claims
// more elements than it has bytes left. A container of an empty class with more
// elements than the bytes that follow it cannot be sent (the read says so).
#pragma once

#include <cereal/archives/binary.hpp>
#include <cereal/cereal.hpp>
#include <cereal/details/traits.hpp>
#include <cstddef>
#include <cstdint>
#include <istream>
#include <memory>
#include <string>
#include <type_traits>

#include "mp/detail/bytes.hpp"
#include "mp/errors.hpp"

namespace mp::detail {

class BoundedBinaryInputArchive
    : public cereal::InputArchive<BoundedBinaryInputArchive, cereal::AllowEmptyClassElision> {
 public:
  // Reads from `stream`, whose message has `bytes` bytes left.
  BoundedBinaryInputArchive(std::istream& stream, std::size_t bytes)
      : InputArchive(this), stream_(stream), left_(bytes) {}

  void loadBinary(void* data, std::size_t size) {
    if (size > left_) {
      throw_truncated_message(size, left_);
    }
    const auto read = static_cast<std::size_t>(
        stream_.rdbuf()->sgetn(reinterpret_cast<char*>(data), static_cast<std::streamsize>(size)));
    if (read != size) {
      throw_truncated_message(size, read);
    }
    left_ -= size;
  }

  void check_size(std::uint64_t elements) const {
    if (elements > left_) {
      throw SerializationError("mp: malformed message: a container of " + std::to_string(elements) +
                               " elements, with " + std::to_string(left_) + " bytes left");
    }
  }

 private:
  std::istream& stream_;
  std::size_t left_;
};

}  // namespace mp::detail

namespace cereal {

template <class T>
inline std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_LOAD_FUNCTION_NAME(
    mp::detail::BoundedBinaryInputArchive& ar, T& t) {
  ar.loadBinary(std::addressof(t), sizeof(t));
}

template <class Archive, class T>
inline CEREAL_ARCHIVE_RESTRICT(mp::detail::BoundedBinaryInputArchive, void)
    CEREAL_SERIALIZE_FUNCTION_NAME(Archive& ar, NameValuePair<T>& t) {
  ar(t.value);
}

template <class Archive, class T>
inline CEREAL_ARCHIVE_RESTRICT(mp::detail::BoundedBinaryInputArchive, void)
    CEREAL_SERIALIZE_FUNCTION_NAME(Archive& ar, SizeTag<T>& t) {
  ar(t.size);
  ar.check_size(static_cast<std::uint64_t>(t.size));
}

template <class T>
inline void CEREAL_LOAD_FUNCTION_NAME(mp::detail::BoundedBinaryInputArchive& ar, BinaryData<T>& t) {
  ar.loadBinary(t.data, static_cast<std::size_t>(t.size));
}

}  // namespace cereal

CEREAL_REGISTER_ARCHIVE(mp::detail::BoundedBinaryInputArchive)

// What it reads was written by BinaryOutputArchive (load_minimal of a type is checked
// against its save_minimal through this). Only this direction: BinaryOutputArchive's own
// input archive stays cereal's.
namespace cereal::traits::detail {
template <>
struct get_output_from_input<mp::detail::BoundedBinaryInputArchive> {
  using type = cereal::BinaryOutputArchive;
};
}  // namespace cereal::traits::detail
