#include "runtime/thread_budget.hpp"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

namespace mp::runtime {
namespace {

// A library's thread count: the variable it reads at start, and the setter it exports for
// later changes (null: the variable alone, or the library is not loaded).
struct ThreadLibrary {
  const char* variable;
  const char* setter_name;
  bool setter_takes_long;  // BLIS: dim_t
  void* setter = nullptr;
};

struct ThreadLibraries {
  ThreadLibrary libs[6] = {
      {"OMP_NUM_THREADS", "omp_set_num_threads", false},
      {"OPENBLAS_NUM_THREADS", "openblas_set_num_threads", false},
      {"MKL_NUM_THREADS", "MKL_Set_Num_Threads", false},
      {"BLIS_NUM_THREADS", "bli_thread_set_num_threads", true},
      {"VECLIB_MAXIMUM_THREADS", nullptr, false},
      {"NUMEXPR_NUM_THREADS", nullptr, false},
  };
};

ThreadLibraries& libraries() noexcept {
  static ThreadLibraries found = [] {
    ThreadLibraries l;
    for (ThreadLibrary& lib : l.libs) {
      if (lib.setter_name != nullptr) {
        lib.setter = ::dlsym(RTLD_DEFAULT, lib.setter_name);
      }
    }
    return l;
  }();
  return found;
}

}  // namespace

void find_thread_library_setters() noexcept { (void)libraries(); }

void limit_inner_threads(int threads, bool forced) noexcept {
  if (threads <= 0) {
    return;
  }
  char value[16];
  std::snprintf(value, sizeof value, "%d", threads);
  for (const ThreadLibrary& lib : libraries().libs) {
    if (!forced && std::getenv(lib.variable) != nullptr) {
      continue;  // the user's setting, which the library read at start
    }
    ::setenv(lib.variable, value, 1);
    if (lib.setter == nullptr) {
      continue;
    }
    if (lib.setter_takes_long) {
      reinterpret_cast<void (*)(long)>(lib.setter)(threads);
    } else {
      reinterpret_cast<void (*)(int)>(lib.setter)(threads);
    }
  }
}

}  // namespace mp::runtime
