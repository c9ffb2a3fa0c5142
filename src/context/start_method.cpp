#include <stdexcept>
#include <string>

#include "mp/start_method.hpp"
#include "process/launcher.hpp"

namespace mp {

std::string_view to_string(StartMethod method) noexcept {
  switch (method) {
    case StartMethod::fork:
      return "fork";
    case StartMethod::forkserver:
      return "forkserver";
    case StartMethod::spawn:
      return "spawn";
  }
  return "unknown";
}

StartMethod start_method_from_name(std::string_view name) {
  for (const StartMethod m : {StartMethod::fork, StartMethod::forkserver, StartMethod::spawn}) {
    if (name == to_string(m)) {
      return m;
    }
  }
  throw std::invalid_argument("mp: unknown start method '" + std::string(name) +
                              "' (expected fork, forkserver or spawn)");
}

void init(int argc, char** argv) {
  if (argc > 0 && argv != nullptr) {
    process::set_program_arguments(argc, argv);
  }
  // A process that mp started by exec plays its role here and never returns.
  process::enter_child_role_if_requested();
}
}  // namespace mp
