// The throw helpers the pool templates call, kept out of the headers (one compiled place
// for the messages).
#include <cstdio>
#include <string>

#include "mp/detail/kernels.hpp"
#include "mp/detail/pool_core.hpp"
#include "mp/errors.hpp"

namespace mp::detail {

void report_callback_error(std::exception_ptr error) noexcept {
  try {
    std::rethrow_exception(std::move(error));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mp: a callback threw (ignored): %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "mp: a callback threw (ignored): not a std::exception\n");
  }
}

void throw_invalid_chunksize(long long chunksize) {
  throw std::invalid_argument("mp: chunksize must be 1 or more, not " + std::to_string(chunksize));
}

std::exception_ptr make_crash_error(int pid, int wait_status, int cause, std::uint64_t index) {
  if (cause == kCauseKilledByPool) {
    return make_timeout_error(pid, index);
  }
  return std::make_exception_ptr(
      WorkerCrashed(pid, wait_status, index, static_cast<CrashCause>(cause)));
}

std::exception_ptr make_timeout_error(int pid, std::uint64_t index) {
  return std::make_exception_ptr(
      TimeoutError("mp: task " + std::to_string(index) +
                   " ran longer than the pool's task_timeout; worker pid " + std::to_string(pid) +
                   " was killed and replaced"));
}

void throw_timeout(const char* what) { throw TimeoutError(std::string("mp: timed out: ") + what); }

void throw_pool_gone() {
  throw BrokenPool("mp: the pool this result belongs to was destroyed before the result was ready");
}

}  // namespace mp::detail
