// Fuzzes what the parent decodes from a result message: per argument a status, then a
// value (plain or framed), an error record (type and message, standard types rebuilt) or
// a crash record, through the sink map/apply collect into. The first byte picks the result
// type, the second the chunk's argument count. A malformed message must be a clear
// exception (or an error for its item), never a crash or an allocation of the size it
// claims.
#include <cstddef>
#include <cstdint>
#include <exception>

#include "mp/detail/pool_jobs.hpp"
#include "pool_messages.hpp"

namespace {

using namespace mp::fuzz;

template <class R>
void decode_chunk(const std::byte* p, std::size_t n, std::uint32_t count) {
  mp::detail::VectorSink<R> sink;
  const mp::detail::ChunkRef chunk{0, count};
  sink.on_sent(chunk);
  mp::detail::UnsentItems unsent;
  mp::detail::Reader in(p, n);
  try {
    std::exception_ptr error = sink.decode(chunk, in, 1234, unsent);
    (void)error;
  } catch (const std::exception&) {
  }
}

// The results the kernel writes for the seed task, with the chunk's count in front.
template <class F, class Arg>
void seed(std::uint8_t selector, const char* name, const std::vector<Arg>& args) {
  const std::vector<std::byte> task = task_payload<F, Arg>(args);
  const std::vector<std::byte> results = run_task<F, Arg>(task.data(), task.size());
  std::vector<std::byte> bytes{static_cast<std::byte>(selector),
                               static_cast<std::byte>(args.size())};
  bytes.insert(bytes.end(), results.begin(), results.end());
  write_seed(name, bytes);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  seed<Third>(0, "ints", seed_ints());
  seed<Length>(1, "sizes", seed_strings());
  seed<Rename>(2, "records", seed_records());
  seed<Sum>(3, "sums", seed_vectors());
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) {
    return 0;
  }
  const auto* p = reinterpret_cast<const std::byte*>(data) + 2;
  const std::size_t n = size - 2;
  const std::uint32_t count = data[1] % 65;
  switch (data[0] % 4) {
    case 0:
      decode_chunk<int>(p, n, count);
      break;
    case 1:
      decode_chunk<std::size_t>(p, n, count);
      break;
    case 2:
      decode_chunk<Record>(p, n, count);
      break;
    default:
      decode_chunk<long long>(p, n, count);
      break;
  }
  return 0;
}
