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

void Reader::grow() {
  const auto have = static_cast<std::size_t>(end_ - begin_);
  const std::size_t now = source_->wait_beyond(have);
  if (now == have) {
    source_ = nullptr;  // complete
  }
  end_ = begin_ + now;
}

void Reader::wait_for(std::size_t n) {
  while (n > remaining() && source_ != nullptr) {
    grow();
  }
  if (n > remaining()) {
    throw_truncated_message(n, remaining());
  }
}

const std::byte* Reader::take_after_wait(std::size_t n) {
  wait_for(n);
  const std::byte* p = cur_;
  cur_ += n;
  return p;
}

void throw_truncated_message(std::size_t wanted, std::size_t available) {
  throw SerializationError("mp: truncated message: needed " + std::to_string(wanted) +
                           " more bytes, " + std::to_string(available) + " left");
}

}  // namespace mp::detail
