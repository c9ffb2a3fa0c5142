// Fuzzes what a worker decodes from a task message: the callable's state, the argument
// count and each argument (plain or framed), through the real kernel. The first byte
// picks the kernel. A malformed message must fail with an exception or with error items,
// never crash the worker or make it allocate what the message claims.
#include <cstddef>
#include <cstdint>
#include <exception>

#include "pool_messages.hpp"

namespace {

using namespace mp::fuzz;

template <class F, class Arg>
void run_one(const std::byte* p, std::size_t n) {
  try {
    run_task<F, Arg>(p, n);
  } catch (const std::exception&) {
  }
}

template <class F, class Arg>
void seed(std::uint8_t selector, const char* name, const std::vector<Arg>& args) {
  std::vector<std::byte> bytes{static_cast<std::byte>(selector)};
  const std::vector<std::byte> task = task_payload<F, Arg>(args);
  bytes.insert(bytes.end(), task.begin(), task.end());
  write_seed(name, bytes);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  seed<Third>(0, "ints", seed_ints());
  seed<Length>(1, "strings", seed_strings());
  seed<Rename>(2, "records", seed_records());
  seed<Sum>(3, "vectors", seed_vectors());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  const auto* p = reinterpret_cast<const std::byte*>(data) + 1;
  const std::size_t n = size - 1;
  switch (data[0] % 4) {
    case 0:
      run_one<Third, int>(p, n);
      break;
    case 1:
      run_one<Length, std::string>(p, n);
      break;
    case 2:
      run_one<Rename, Record>(p, n);
      break;
    default:
      run_one<Sum, std::vector<int>>(p, n);
      break;
  }
  return 0;
}
