// mp::SharedMemory: POSIX named shared memory (shm_open), the names other programs use.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <mutex>
#include <random>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "mp/shared_memory.hpp"
#include "sys/shm_names.hpp"

namespace mp {

namespace {

void check_name(const std::string& name) {
  if (name.empty() || name.size() > 250 || name.find('/') != std::string::npos) {
    throw std::invalid_argument("mp: SharedMemory name \"" + name +
                                "\" must be 1 to 250 characters without '/'");
  }
}

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

std::byte* map_fd(int fd, std::size_t size, const std::string& name) {
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    const int e = errno;
    ::close(fd);
    errno = e;
    throw_errno("mp: SharedMemory: mmap of " + name);
  }
  ::close(fd);  // the mapping keeps the memory
  return static_cast<std::byte*>(p);
}

}  // namespace

SharedMemory SharedMemory::create(const std::string& name, std::size_t size) {
  check_name(name);
  if (size == 0) {
    throw std::invalid_argument("mp: SharedMemory size must be positive");
  }
  const int fd = ::shm_open(("/" + name).c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    throw_errno("mp: SharedMemory: cannot create " + name);
  }
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    const int e = errno;
    ::close(fd);
    ::shm_unlink(("/" + name).c_str());
    errno = e;
    throw_errno("mp: SharedMemory: cannot size " + name);
  }
  std::byte* data = nullptr;
  try {
    data = map_fd(fd, size, name);
  } catch (...) {
    ::shm_unlink(("/" + name).c_str());
    throw;
  }
  sys::remember_shm_name(name);
  return SharedMemory(name, data, size);
}

SharedMemory SharedMemory::create(std::size_t size) {
  static std::mutex m;
  static std::mt19937_64 rng{std::random_device{}()};
  for (;;) {
    std::uint64_t r = 0;
    {
      std::lock_guard lock(m);
      r = rng();
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string name = "mpshm_";
    for (int i = 0; i < 16; ++i, r >>= 4) {
      name += kHex[r & 15];
    }
    try {
      return create(name, size);
    } catch (const std::system_error& e) {
      if (e.code() != std::errc::file_exists) {
        throw;
      }
    }
  }
}

SharedMemory SharedMemory::attach(const std::string& name, std::size_t min_size) {
  check_name(name);
  const int fd = ::shm_open(("/" + name).c_str(), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) {
    throw_errno("mp: SharedMemory: no segment " + name);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    errno = e;
    throw_errno("mp: SharedMemory: fstat of " + name);
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size == 0 || size < min_size) {
    ::close(fd);
    throw std::length_error("mp: SharedMemory " + name + " holds " + std::to_string(size) +
                            " bytes, fewer than the " +
                            std::to_string(std::max<std::size_t>(min_size, 1)) + " needed");
  }
  return SharedMemory(name, map_fd(fd, size, name), size);
}

SharedMemory::SharedMemory(SharedMemory&& other) noexcept
    : name_(std::move(other.name_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)) {}

SharedMemory& SharedMemory::operator=(SharedMemory&& other) noexcept {
  if (this != &other) {
    close();
    name_ = std::move(other.name_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SharedMemory::~SharedMemory() { close(); }

void SharedMemory::close() noexcept {
  if (data_ != nullptr) {
    ::munmap(data_, size_);
    data_ = nullptr;
  }
}

void SharedMemory::unlink() {
  if (::shm_unlink(("/" + name_).c_str()) != 0) {
    throw_errno("mp: SharedMemory: cannot unlink " + name_);
  }
  sys::forget_shm_name(name_);
}

}  // namespace mp
