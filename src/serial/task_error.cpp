#include "serial/task_error.hpp"

#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <typeinfo>

#include "mp/detail/codec.hpp"
#include "mp/detail/kernels.hpp"
#include "mp/errors.hpp"
#include "sys/demangle.hpp"

namespace mp {
namespace {

// The standard exception named `type`, thrown with `nested` inside, as an exception_ptr;
// nullptr for any other type.
template <class E>
std::exception_ptr nest(const RemoteError& nested) {
  try {
    throw nested;
  } catch (...) {
    try {
      std::throw_with_nested(E(nested.message()));
    } catch (...) {
      return std::current_exception();
    }
  }
}

std::exception_ptr as_standard(const std::string& type, const RemoteError& e) {
  if (type == "std::invalid_argument") return nest<std::invalid_argument>(e);
  if (type == "std::out_of_range") return nest<std::out_of_range>(e);
  if (type == "std::domain_error") return nest<std::domain_error>(e);
  if (type == "std::length_error") return nest<std::length_error>(e);
  if (type == "std::logic_error") return nest<std::logic_error>(e);
  if (type == "std::range_error") return nest<std::range_error>(e);
  if (type == "std::overflow_error") return nest<std::overflow_error>(e);
  if (type == "std::underflow_error") return nest<std::underflow_error>(e);
  if (type == "std::runtime_error") return nest<std::runtime_error>(e);
  return nullptr;
}

}  // namespace

namespace serial {
std::exception_ptr make_remote_error(std::string type, std::string what, pid_t pid,
                                     std::uint64_t index);
}  // namespace serial

namespace detail {

namespace {
void encode_exception(Writer& out, const std::exception_ptr& error) {
  std::string type = "unknown exception (not derived from std::exception)";
  std::string what;
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    type = sys::demangle(typeid(e).name());
    what = e.what();
  } catch (...) {
  }
  encode(out, type);
  encode(out, what);
}
}  // namespace

void encode_task_error(Writer& out, std::size_t offset, std::uint32_t index,
                       std::exception_ptr error) {
  out.truncate(offset);
  // The status byte sits just before the results (runtime/worker_region.hpp).
  const std::uint8_t status = 1;
  out.patch(offset - 1, &status, 1);
  encode(out, index);
  encode_exception(out, error);
}

void encode_item_error(Writer& out, std::exception_ptr error) { encode_exception(out, error); }

std::exception_ptr decode_item_error(Reader& in, int pid, std::uint64_t index) {
  std::string type;
  std::string what;
  decode(in, type);
  decode(in, what);
  return serial::make_remote_error(std::move(type), std::move(what), pid, index);
}

}  // namespace detail

namespace serial {

std::exception_ptr make_remote_error(std::string type, std::string what, pid_t pid,
                                     std::uint64_t index) {
  RemoteError remote(type, std::move(what), pid, index);
  if (auto std_error = as_standard(type, remote)) {
    return std_error;
  }
  return std::make_exception_ptr(remote);
}

std::exception_ptr decode_task_error(detail::Reader& in, pid_t pid, std::uint64_t first_index) {
  std::uint32_t index = 0;
  std::string type;
  std::string what;
  detail::decode(in, index);
  detail::decode(in, type);
  detail::decode(in, what);
  const std::uint64_t task = first_index + (index == UINT32_MAX ? 0 : index);
  return make_remote_error(std::move(type), std::move(what), pid, task);
}

}  // namespace serial
}  // namespace mp
