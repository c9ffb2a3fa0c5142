// Running an initializer that arrived encoded (include/mp/initializer.hpp).
#include <cstdint>

#include "mp/detail/kernels.hpp"
#include "mp/errors.hpp"
#include "mp/initializer.hpp"

namespace mp::detail {

void run_encoded_initializer(std::span<const std::byte> encoded) {
  Reader in(encoded.data(), encoded.size());
  std::uint64_t id = 0;
  in.read(&id, sizeof id);
  const Trampoline fn = find_trampoline(id);
  if (fn == nullptr) {
    throw SerializationError("mp: the worker does not know the pool's initializer (callable id " +
                             std::to_string(id) + ")");
  }
  VectorWriter unused;
  ItemMonitor monitor;
  fn(in, unused, monitor);
}

}  // namespace mp::detail
