// Task and result messages of the pool, made by the library's own kernels: the seeds of
// the task and result fuzzers. A task payload is what a worker reads after the trampoline
// id (kernels.hpp): [callable][count][arguments]; a result payload is what the kernel
// writes for it.
#pragma once

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "mp/detail/kernels.hpp"

namespace mp::fuzz {

// Stateless function objects, sent as their bytes; each throws for one input, so that the
// results hold error items too.
struct Third {
  int operator()(int x) const {
    if (x == 13) throw std::invalid_argument("thirteen");
    return x / 3;
  }
};
struct Length {
  std::size_t operator()(const std::string& s) const {
    if (s.empty()) throw std::length_error("empty");
    return s.size();
  }
};
struct Rename {
  Record operator()(Record r) const {
    if (r.name.empty()) throw std::runtime_error("no name");
    r.name += "!";
    return r;
  }
};
struct Sum {
  long long operator()(const std::vector<int>& v) const {
    long long s = 0;
    for (int x : v) s += x;
    return s;
  }
};

template <class F, class Arg>
using Kernel = detail::ChunkKernel<F, Arg, false>;

// The task payload for `args`, as ChunkedJob::encode_next writes it after the id.
template <class F, class Arg>
std::vector<std::byte> task_payload(const std::vector<Arg>& args) {
  detail::VectorWriter w;
  detail::encode_callable(w, F{});
  const auto count = static_cast<std::uint32_t>(args.size());
  w.write(&count, sizeof count);
  detail::VectorWriter scratch;
  for (const Arg& a : args) {
    if constexpr (detail::framed_v<Arg>) {
      detail::encode_framed(w, scratch, a);
    } else {
      detail::encode(w, a);
    }
  }
  return {w.data(), w.data() + w.size()};
}

// Runs the kernel over a task payload, as a worker does; returns what it wrote.
template <class F, class Arg>
std::vector<std::byte> run_task(const std::byte* p, std::size_t n) {
  std::atomic<std::uint32_t> running{0};
  detail::ItemMonitor monitor;
  monitor.running = &running;
  detail::Reader in(p, n);
  detail::VectorWriter out;
  Kernel<F, Arg>::run(in, out, monitor);
  return {out.data(), out.data() + out.size()};
}

// The argument lists the seeds are made of.
inline std::vector<int> seed_ints() { return {1, 2, 13, 40}; }
inline std::vector<std::string> seed_strings() { return {"alpha", "", "gamma delta"}; }
inline std::vector<Record> seed_records() {
  return {{"a", {1, 2}, 0.5}, {"", {}, 0}, {"c", {3}, 2}};
}
inline std::vector<std::vector<int>> seed_vectors() { return {{1, 2, 3}, {}, {7}}; }

}  // namespace mp::fuzz
