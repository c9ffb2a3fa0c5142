// mp::SharedMemory: a named block of shared memory that other programs can open, Python's
// multiprocessing.shared_memory.SharedMemory.
//
//   auto shm = mp::SharedMemory::create("frames", 1 << 20);   // /dev/shm/frames
//   std::span<float> samples = shm.as<float>();
//   // Python: shared_memory.SharedMemory(name="frames").buf, the same bytes
//   auto same = mp::SharedMemory::attach("frames");           // in any process
//   shm.unlink();                                             // the name goes
//
// A SharedMemory can be sent to a task or a Process (it travels as its name and is
// attached there). As in Python, a name lives until unlink(); one this process created
// and did not unlink is removed when the process exits (a return from main, exit(), or a
// signal: a tracker process started with the first name removes them then), as Python's
// resource tracker does, and never by a process that only attached (Python's gh-82300).
// mp's own shared memory (queues, locks, Value, Array, pool transport) is anonymous and
// never stays.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <type_traits>

namespace mp {

class SharedMemory {
 public:
  // A new block of `size` bytes (zero-filled) named `name` (no '/', at most 250
  // characters). Throws std::system_error if the name exists (Python's FileExistsError),
  // std::invalid_argument for a size of 0 or a bad name.
  static SharedMemory create(const std::string& name, std::size_t size);
  // As above, with a fresh name ("mpshm_" and 16 random hex digits).
  static SharedMemory create(std::size_t size);
  // The block named `name`. Throws std::system_error if there is none (Python's
  // FileNotFoundError), std::length_error if it is smaller than `min_size`.
  static SharedMemory attach(const std::string& name, std::size_t min_size = 0);

  SharedMemory() = default;  // empty, for decoding into
  SharedMemory(SharedMemory&& other) noexcept;
  SharedMemory& operator=(SharedMemory&& other) noexcept;
  SharedMemory(const SharedMemory&) = delete;
  SharedMemory& operator=(const SharedMemory&) = delete;
  // Unmaps it (Python's close()); the name stays.
  ~SharedMemory();

  const std::string& name() const { return name_; }
  std::size_t size() const { return size_; }
  std::byte* data() const { return data_; }
  std::span<std::byte> bytes() const { return {data_, size_}; }
  // The block as an array of T (size() / sizeof(T) elements).
  template <class T>
  std::span<T> as() const {
    static_assert(std::is_trivially_copyable_v<T>,
                  "mp: SharedMemory holds bytes; view it as trivially copyable values only");
    return {reinterpret_cast<T*>(data_), size_ / sizeof(T)};
  }

  // Unmaps it now; data() is null afterwards.
  void close() noexcept;
  // Removes the name: nobody can attach any more; mappings stay valid until closed.
  // Throws std::system_error if the name is already gone.
  void unlink();

  // Sent as its name, attached on the other side.
  template <class Archive>
  void save(Archive& ar) const {
    ar(name_);
  }
  template <class Archive>
  void load(Archive& ar) {
    std::string name;
    ar(name);
    *this = attach(name);
  }

 private:
  SharedMemory(std::string name, std::byte* data, std::size_t size)
      : name_(std::move(name)), data_(data), size_(size) {}
  std::string name_;
  std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace mp
