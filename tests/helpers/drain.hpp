// Reading an imap to its end while some arguments fail: imap raises each failure at its
// position and goes on, so a test collects the values and the failures separately.
#pragma once

#include <chrono>
#include <vector>

namespace mp::test {

template <class Value, class Failure>
struct Drained {
  std::vector<Value> values;
  std::vector<Failure> failures;
};

// Iterates `results` (an mp::IMapIterator) until it ends, keeping every value and every
// exception of type Failure (others propagate); each item must arrive within `per_item`.
template <class Failure, class Results>
auto drain(Results& results, std::chrono::seconds per_item = std::chrono::seconds(30)) {
  using Value = typename decltype(results.next(per_item))::value_type;
  Drained<Value, Failure> out;
  for (;;) {
    try {
      auto v = results.next(per_item);
      if (!v) break;
      out.values.push_back(*v);
    } catch (const Failure& e) {
      out.failures.push_back(e);
    }
  }
  return out;
}

}  // namespace mp::test
