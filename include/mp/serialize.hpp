// What can cross a process boundary, and how to make your own types do so.
//
// Accepted as task arguments, results and function-object state:
//   - trivially copyable types (numbers, enums, plain structs, std::array of them): copied
//     as bytes, the fastest path;
//   - std::string, std::vector, std::array, std::pair, std::tuple, std::optional of
//     accepted types: length-prefixed, contiguous storage copied in one piece;
//   - every other type cereal serializes: all standard containers, std::variant,
//     std::unique_ptr/shared_ptr, std::chrono durations, and your types with a serialize
//     function:
//
//       struct Point {
//         std::string label;
//         std::vector<double> xs;
//         template <class Archive> void serialize(Archive& ar) { ar(label, xs); }
//       };
//
// Raw pointers, references and types cereal cannot serialize fail to compile with a
// message that says so. Write serialize (or save/load) as a template over the archive, as
// above: mp writes with cereal's BinaryOutputArchive and reads the same bytes with an
// archive of its own, which checks every container size against the bytes the message
// has left before the container is made (a garbled message fails with
// mp::SerializationError instead of allocating what it claims).
#pragma once

#include "mp/detail/codec.hpp"  // IWYU pragma: export
