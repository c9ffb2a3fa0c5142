#include "serial/task_error.hpp"

#include <unistd.h>

#include <any>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <future>
#include <ios>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <typeinfo>
#include <variant>

#include "mp/detail/codec.hpp"
#include "mp/detail/kernels.hpp"
#include "mp/errors.hpp"
#include "sys/demangle.hpp"

namespace mp {
namespace {

// How a std::system_error's code travels: its category (one the caller has too), then
// its value.
enum class CodeCategory : std::uint8_t { none, generic, system, iostream, future };

CodeCategory category_of(const std::error_code& code) {
  if (code.category() == std::generic_category()) return CodeCategory::generic;
  if (code.category() == std::system_category()) return CodeCategory::system;
  if (code.category() == std::iostream_category()) return CodeCategory::iostream;
  if (code.category() == std::future_category()) return CodeCategory::future;
  return CodeCategory::none;
}

std::error_code code_of(CodeCategory category, int value) {
  switch (category) {
    case CodeCategory::generic:
      return {value, std::generic_category()};
    case CodeCategory::system:
      return {value, std::system_category()};
    case CodeCategory::iostream:
      return {value, std::iostream_category()};
    case CodeCategory::future:
      return {value, std::future_category()};
    case CodeCategory::none:
      break;
  }
  return {value, std::generic_category()};
}

// `standard` thrown with `nested` inside, as an exception_ptr.
template <class E>
std::exception_ptr nest(E standard, const RemoteError& nested) {
  try {
    throw nested;
  } catch (...) {
    try {
      std::throw_with_nested(std::move(standard));
    } catch (...) {
      return std::current_exception();
    }
  }
}

// The standard exception named `type` with `e` nested inside, as an exception_ptr;
// nullptr for any other type. Types whose constructor takes no message carry it only in
// the nested RemoteError.
std::exception_ptr as_standard(const std::string& type, const RemoteError& e, CodeCategory category,
                               int code) {
  const std::string& m = e.message();
  if (type == "std::invalid_argument") return nest(std::invalid_argument(m), e);
  if (type == "std::out_of_range") return nest(std::out_of_range(m), e);
  if (type == "std::domain_error") return nest(std::domain_error(m), e);
  if (type == "std::length_error") return nest(std::length_error(m), e);
  if (type == "std::logic_error") return nest(std::logic_error(m), e);
  if (type == "std::range_error") return nest(std::range_error(m), e);
  if (type == "std::overflow_error") return nest(std::overflow_error(m), e);
  if (type == "std::underflow_error") return nest(std::underflow_error(m), e);
  if (type == "std::runtime_error") return nest(std::runtime_error(m), e);
  if (type == "std::bad_alloc") return nest(std::bad_alloc(), e);
  if (type == "std::bad_array_new_length") return nest(std::bad_array_new_length(), e);
  if (type == "std::bad_cast") return nest(std::bad_cast(), e);
  if (type == "std::bad_typeid") return nest(std::bad_typeid(), e);
  if (type == "std::bad_function_call") return nest(std::bad_function_call(), e);
  if (type == "std::bad_optional_access") return nest(std::bad_optional_access(), e);
  if (type == "std::bad_variant_access") return nest(std::bad_variant_access(), e);
  if (type == "std::bad_any_cast") return nest(std::bad_any_cast(), e);
  if (type == "std::bad_weak_ptr") return nest(std::bad_weak_ptr(), e);
  if (type == "std::bad_exception") return nest(std::bad_exception(), e);
  if (type == "std::exception") return nest(std::exception(), e);
  if (category != CodeCategory::none) {
    // what() of these is "message: code text"; the message alone goes back in.
    const std::error_code ec = code_of(category, code);
    std::string message = m;
    const std::string suffix = ": " + ec.message();
    if (message.size() >= suffix.size() &&
        message.compare(message.size() - suffix.size(), suffix.size(), suffix) == 0) {
      message.resize(message.size() - suffix.size());
    }
    if (type == "std::system_error") return nest(std::system_error(ec, message), e);
    if (type == "std::filesystem::__cxx11::filesystem_error" ||
        type == "std::filesystem::filesystem_error") {
      return nest(std::filesystem::filesystem_error(message, ec), e);
    }
    if (type == "std::ios_base::failure" || type == "std::ios_base::failure[abi:cxx11]") {
      return nest(std::ios_base::failure(message, ec), e);
    }
    if (type == "std::future_error" && category == CodeCategory::future) {
      return nest(std::future_error(static_cast<std::future_errc>(code)), e);
    }
  }
  return nullptr;
}

}  // namespace

namespace serial {
std::exception_ptr make_remote_error(std::string type, std::string what, CodeCategory category,
                                     int code, pid_t pid, std::uint64_t index);
}  // namespace serial

namespace detail {

namespace {
// [type][what][code category][code value]: the code of a std::system_error (and of the
// types derived from it), so that it comes back as one.
void encode_exception(Writer& out, const std::exception_ptr& error) {
  std::string type = "unknown exception (not derived from std::exception)";
  std::string what;
  CodeCategory category = CodeCategory::none;
  std::int32_t code = 0;
  try {
    std::rethrow_exception(error);
  } catch (const std::system_error& e) {
    type = sys::demangle(typeid(e).name());
    what = e.what();
    category = category_of(e.code());
    code = e.code().value();
  } catch (const std::future_error& e) {
    type = sys::demangle(typeid(e).name());
    what = e.what();
    category = category_of(e.code());
    code = e.code().value();
  } catch (const std::exception& e) {
    type = sys::demangle(typeid(e).name());
    what = e.what();
  } catch (...) {
  }
  encode(out, type);
  encode(out, what);
  encode(out, static_cast<std::uint8_t>(category));
  encode(out, code);
}

// Reads what encode_exception wrote.
std::exception_ptr decode_exception(Reader& in, int pid, std::uint64_t index) {
  std::string type;
  std::string what;
  std::uint8_t category = 0;
  std::int32_t code = 0;
  decode(in, type);
  decode(in, what);
  decode(in, category);
  decode(in, code);
  if (category > static_cast<std::uint8_t>(CodeCategory::future)) {
    category = 0;
  }
  return serial::make_remote_error(std::move(type), std::move(what),
                                   static_cast<CodeCategory>(category), code, pid, index);
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
  return decode_exception(in, pid, index);
}

}  // namespace detail

namespace serial {

std::exception_ptr make_remote_error(std::string type, std::string what, CodeCategory category,
                                     int code, pid_t pid, std::uint64_t index) {
  RemoteError remote(type, std::move(what), pid, index);
  if (auto std_error = as_standard(type, remote, category, code)) {
    return std_error;
  }
  return std::make_exception_ptr(remote);
}

std::exception_ptr decode_task_error(detail::Reader& in, pid_t pid, std::uint64_t first_index) {
  std::uint32_t index = 0;
  detail::decode(in, index);
  const std::uint64_t task = first_index + (index == UINT32_MAX ? 0 : index);
  return detail::decode_exception(in, pid, task);
}

}  // namespace serial
}  // namespace mp
