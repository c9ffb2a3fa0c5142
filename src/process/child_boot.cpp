#include "process/child_boot.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

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
  sys::UniqueFd fd = sys::make_memfd("mp-boot", MFD_ALLOW_SEALING);
  if (!sys::write_full(fd.get(), blob.data(), blob.size())) {
    sys::throw_errno("write");
  }
  // The seals keep it what was written; the child reads it from the start.
  ::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
  if (::lseek(fd.get(), 0, SEEK_SET) != 0) {
    sys::throw_errno("lseek");
  }
  return fd;
}

std::vector<std::byte> read_blob_fd(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    sys::throw_errno("fstat");
  }
  std::vector<std::byte> blob(static_cast<std::size_t>(st.st_size));
  if (sys::read_full(fd, blob.data(), blob.size()) != blob.size()) {
    throw std::runtime_error("mp: start-up data shorter than its file");
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

namespace {
// `text` as one whole decimal number in [min, max].
template <class T>
std::optional<T> whole_number(std::string_view text, T min, T max) {
  T v{};
  const auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (err != std::errc{} || end != text.data() + text.size() || v < min || v > max) {
    return std::nullopt;
  }
  return v;
}
}  // namespace

// ROLE:BLOB_FD:PARENT_PID.
std::optional<ChildRequest> parse_child_request(std::string_view value) {
  const auto c1 = value.find(':');
  if (c1 == std::string_view::npos || c1 == 0) {
    return std::nullopt;
  }
  const auto c2 = value.find(':', c1 + 1);
  if (c2 == std::string_view::npos) {
    return std::nullopt;
  }
  const auto fd = whole_number<int>(value.substr(c1 + 1, c2 - c1 - 1), 0, INT_MAX);
  const auto parent = whole_number<pid_t>(value.substr(c2 + 1), 1, INT_MAX);
  if (!fd || !parent) {
    return std::nullopt;
  }
  return ChildRequest{std::string(value.substr(0, c1)), *fd, *parent};
}

void enter_child_role_if_requested() {
  const char* value = std::getenv(kChildEnv);
  if (value == nullptr) {
    return;
  }
  const std::optional<ChildRequest> request = parse_child_request(value);
  if (!request) {
    std::fprintf(stderr, "mp: malformed %s=%s\n", kChildEnv, value);
    exit_child(127);
  }
  const std::string& role = request->role;
  const int blob_fd = request->blob_fd;
  // Taken out of the environment first, so that nothing this process starts later
  // mistakes itself for a child of mp.
  ::unsetenv(kChildEnv);
  ChildBoot boot;
  boot.parent = request->parent;
  try {
    boot.blob = read_blob_fd(blob_fd);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mp: %s: cannot read its start-up data: %s\n", role.c_str(), e.what());
    exit_child(127);
  }
  ::close(blob_fd);
  run_child_role(role, boot);
}

}  // namespace mp::process
