// Counters that every worker can increment, whatever its start method: a file mapped
// shared, which a worker opens by name (a worker started by the fork server or spawn
// inherits no mapping and no fd from the test).
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>

namespace mp::test {

class SharedCounters {
 public:
  // What a task captures: trivially copyable, so it can be sent to any worker.
  struct Handle {
    char path[64];
    std::size_t n;
    // Adds one to counter i and returns its new value (0 if the file cannot be mapped).
    int add(std::size_t i) const {
      return update(i, [](std::atomic<int>& c) { return ++c; });
    }
    // Sets counter i to v.
    void set(std::size_t i, int v) const {
      update(i, [v](std::atomic<int>& c) { return c = v; });
    }

   private:
    template <class Op>
    int update(std::size_t i, Op op) const {
      const int fd = ::open(path, O_RDWR | O_CLOEXEC);
      if (fd < 0) return 0;
      void* p =
          ::mmap(nullptr, n * sizeof(std::atomic<int>), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      ::close(fd);
      if (p == MAP_FAILED) return 0;
      const int v = op(static_cast<std::atomic<int>*>(p)[i]);
      ::munmap(p, n * sizeof(std::atomic<int>));
      return v;
    }
  };

  explicit SharedCounters(std::size_t n) {
    std::snprintf(handle_.path, sizeof handle_.path, "/tmp/mp-test-counters-XXXXXX");
    handle_.n = n;
    const int fd = ::mkostemp(handle_.path, O_CLOEXEC);
    if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(n * sizeof(std::atomic<int>))) != 0)
      std::abort();
    data_ = static_cast<std::atomic<int>*>(
        ::mmap(nullptr, n * sizeof(std::atomic<int>), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    ::close(fd);
    if (data_ == MAP_FAILED) std::abort();
    for (std::size_t i = 0; i < n; ++i) new (&data_[i]) std::atomic<int>(0);
  }
  ~SharedCounters() {
    ::munmap(data_, handle_.n * sizeof(std::atomic<int>));
    ::unlink(handle_.path);
  }
  SharedCounters(const SharedCounters&) = delete;
  SharedCounters& operator=(const SharedCounters&) = delete;

  Handle handle() const { return handle_; }
  int operator[](std::size_t i) const { return data_[i].load(); }
  // Counter i once a worker has set it, polling for up to `timeout`; 0 if none did.
  int wait_until_set(std::size_t i, std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (data_[i].load() == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return data_[i].load();
  }

 private:
  Handle handle_{};
  std::atomic<int>* data_ = nullptr;
};

}  // namespace mp::test
