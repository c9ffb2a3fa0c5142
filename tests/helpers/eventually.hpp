// Waiting for something another thread or process does, with a limit, so that a test
// that would otherwise hang fails instead.
#pragma once

#include <chrono>
#include <thread>

namespace mp::test {

// Polls `pred` every millisecond, without any mp call, until it holds or `limit` passes;
// returns whether it held.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= end) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

}  // namespace mp::test
