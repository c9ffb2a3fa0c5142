// Running a call that arrived encoded (include/mp/detail/bound_call.hpp).
#include <cstdint>

#include "mp/detail/bound_call.hpp"
#include "mp/detail/kernels.hpp"
#include "mp/errors.hpp"

namespace mp::detail {

void run_encoded_call(std::span<const std::byte> encoded) {
  Reader in(encoded.data(), encoded.size());
  std::uint64_t id = 0;
  in.read(&id, sizeof id);
  const Trampoline fn = find_trampoline(id);
  if (fn == nullptr) {
    throw SerializationError("mp: this process does not know the callable id " +
                             std::to_string(id) + " it was sent (is it the same program?)");
  }
  VectorWriter unused;
  ItemMonitor monitor;
  fn(in, unused, monitor);
}

}  // namespace mp::detail
