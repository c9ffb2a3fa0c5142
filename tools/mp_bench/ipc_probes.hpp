// The costs of mp's queues, locks and shared data between processes (mp-bench overhead's
// queue.*, pipe.roundtrip, lock.*, value.increment and shared_array.* variants). Each returns
// seconds per item and whether the answer was right.
#pragma once

#include <cstddef>

#include "peers.hpp"

namespace mp_bench::ipc {

// `items` ints through an mp::Queue from this process to another that sums them.
peers::RoundTrips queue_stream(int items, std::size_t item_bytes);
// `trips` round trips of an int through two queues, to another process and back.
peers::RoundTrips queue_round_trips(int trips);
// `trips` round trips of an int through an mp::Pipe, to another process and back.
peers::RoundTrips pipe_round_trips(int trips);
// `pairs` acquire + release of an uncontended mp::Lock.
peers::RoundTrips lock_uncontended(int pairs);
// Two processes each taking the same mp::Lock `pairs` times around an increment.
peers::RoundTrips lock_contended(int pairs);
// `n` increments of an mp::Value<long> through update().
peers::RoundTrips value_increment(int n);
// `calls` pool.apply calls handed an mp::RawArray<double> of `bytes`, reading one element.
peers::RoundTrips shared_array_handoff(std::size_t bytes, int calls);

}  // namespace mp_bench::ipc
