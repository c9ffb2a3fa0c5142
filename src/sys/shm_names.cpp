#include "sys/shm_names.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <set>

namespace mp::sys {

namespace {

struct CreatedNames {
  std::mutex m;
  pid_t creator = 0;
  std::set<std::string> names;
};

CreatedNames& created() {
  static auto* c = new CreatedNames;  // read by the exit handler, after static destruction
  return *c;
}

void unlink_at_exit() { unlink_shm_names_created_here(); }

}  // namespace

void remember_shm_name(const std::string& name) {
  CreatedNames& c = created();
  std::lock_guard lock(c.m);
  if (c.creator != ::getpid()) {
    c.names.clear();  // inherited through fork: not this process's
    if (c.creator == 0) {
      std::atexit(unlink_at_exit);
    }
    c.creator = ::getpid();
  }
  c.names.insert(name);
}

void forget_shm_name(const std::string& name) {
  CreatedNames& c = created();
  std::lock_guard lock(c.m);
  c.names.erase(name);
}

void unlink_shm_names_created_here() noexcept {
  CreatedNames& c = created();
  // An exiting child may have been forked while another thread held the lock: never wait.
  std::unique_lock lock(c.m, std::try_to_lock);
  if (!lock.owns_lock() || c.creator != ::getpid()) {
    return;
  }
  for (const std::string& n : c.names) {
    ::shm_unlink(("/" + n).c_str());
  }
  c.names.clear();
}

}  // namespace mp::sys
