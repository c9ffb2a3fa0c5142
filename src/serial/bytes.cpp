// The out-of-line parts of mp/detail/bytes.hpp.
#include "mp/detail/bytes.hpp"

#include <string>

#include "mp/errors.hpp"

namespace mp::detail {

void Writer::write_in_parts(const std::byte* data, std::size_t n) {
  while (n != 0) {
    if (n > static_cast<std::size_t>(end_ - cur_)) {
      overflow(n);  // may make room for only part of it (a streaming channel)
    }
    const std::size_t k = std::min(n, static_cast<std::size_t>(end_ - cur_));
    std::memcpy(cur_, data, k);
    cur_ += k;
    data += k;
    n -= k;
  }
}

Reader::Arrived Reader::wait_for_more(const std::byte* begin, Arrived now) {
  const auto have = static_cast<std::size_t>(now.end - begin);
  const std::size_t got = now.source->wait_beyond(have);
  return {begin + got, got == have ? nullptr : now.source};
}

Reader::Arrived Reader::wait_for(const std::byte* begin, const std::byte* cur, Arrived now,
                                 std::size_t n) {
  while (n > static_cast<std::size_t>(now.end - cur) && now.source != nullptr) {
    now = wait_for_more(begin, now);
  }
  if (n > static_cast<std::size_t>(now.end - cur)) {
    throw_truncated_message(n, static_cast<std::size_t>(now.end - cur));
  }
  return now;
}

void throw_truncated_message(std::size_t wanted, std::size_t available) {
  throw SerializationError("mp: truncated message: needed " + std::to_string(wanted) +
                           " more bytes, " + std::to_string(available) + " left");
}

}  // namespace mp::detail
