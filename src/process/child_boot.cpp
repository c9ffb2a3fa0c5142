#include "process/child_boot.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <string>

#include "process/child.hpp"

namespace mp::process {
namespace {

struct Roles {
  std::mutex mutex;
  std::map<std::string, ChildRole, std::less<>> by_name;
};

Roles& roles() {
  static Roles r;
  return r;
}

}  // namespace

bool register_child_role(std::string_view name, ChildRole role) {
  Roles& r = roles();
  std::lock_guard lock(r.mutex);
  r.by_name.insert_or_assign(std::string(name), role);
  return true;
}

ChildRole find_child_role(std::string_view name) noexcept {
  Roles& r = roles();
  std::lock_guard lock(r.mutex);
  const auto it = r.by_name.find(name);
  return it == r.by_name.end() ? nullptr : it->second;
}

sys::UniqueFd make_blob_fd(const std::vector<std::byte>& blob) {
  sys::UniqueFd fd(::memfd_create("mp-boot", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) {
    sys::throw_errno("memfd_create");
  }
  fd = sys::above_stdio(std::move(fd));
  if (!sys::write_full(fd.get(), blob.data(), blob.size())) {
    sys::throw_errno("write");
  }
  // The child reads it from offset 0 with pread; the seals keep it what was written.
  ::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  return fd;
}

std::vector<std::byte> read_blob_fd(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    sys::throw_errno("fstat");
  }
  std::vector<std::byte> blob(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < blob.size()) {
    const ssize_t r = ::pread(fd, blob.data() + got, blob.size() - got, static_cast<off_t>(got));
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r <= 0) {
      sys::throw_errno("pread");
    }
    got += static_cast<std::size_t>(r);
  }
  return blob;
}

void run_child_role(std::string_view name, ChildBoot& boot) {
  const ChildRole role = find_child_role(name);
  if (role == nullptr) {
    std::fprintf(stderr, "mp: this program does not know the child role '%.*s'\n",
                 static_cast<int>(name.size()), name.data());
    exit_child(127);
  }
  try {
    role(boot);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mp: %.*s: %s\n", static_cast<int>(name.size()), name.data(), e.what());
    exit_child(1);
  }
  exit_child(0);
}

void enter_child_role_if_requested() {
  const char* value = std::getenv(kChildEnv);
  if (value == nullptr) {
    return;
  }
  // ROLE:BLOB_FD:PARENT_PID.
  const std::string spec = value;
  const auto c1 = spec.find(':');
  const auto c2 = spec.find(':', c1 == std::string::npos ? c1 : c1 + 1);
  if (c1 == std::string::npos || c2 == std::string::npos) {
    std::fprintf(stderr, "mp: malformed %s=%s\n", kChildEnv, spec.c_str());
    exit_child(127);
  }
  const std::string role = spec.substr(0, c1);
  // Taken out of the environment first, so that nothing this process starts later
  // mistakes itself for a child of mp.
  ::unsetenv(kChildEnv);
  const int blob_fd = std::atoi(spec.c_str() + c1 + 1);
  ChildBoot boot;
  boot.parent = static_cast<pid_t>(std::atol(spec.c_str() + c2 + 1));
  try {
    boot.blob = read_blob_fd(blob_fd);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mp: %s: cannot read its start-up data: %s\n", role.c_str(), e.what());
    exit_child(127);
  }
  ::close(blob_fd);
  run_child_role(role, boot);
}

int thread_count() {
  // From /proc/self/stat (field 20, num_threads), read without allocating: this runs
  // before every fork of a pool worker.
  char buf[1024];
  const int fd = ::open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return 1;
  }
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) {
    return 1;
  }
  buf[n] = '\0';
  const char* p = std::strrchr(buf, ')');  // the command name may contain anything
  if (p == nullptr) {
    return 1;
  }
  // Fields after the name: state (3) ... num_threads (20), separated by single spaces.
  for (int field = 2; field < 20 && *p != '\0'; ++p) {
    if (*p == ' ') {
      ++field;
    }
  }
  const long threads = std::strtol(p, nullptr, 10);
  return threads > 0 ? static_cast<int>(threads) : 1;
}

void die_with_parent(pid_t parent) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The signal is tied to the parent's death after this point only.
  if (::getppid() != parent) {
    exit_child(1);
  }
}

}  // namespace mp::process
