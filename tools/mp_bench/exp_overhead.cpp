// Per-task costs: what mp adds to a task, beside what the hardware allows (two processes
// ping-ponging through shared memory) and what thread-based task systems cost in the
// same run. Latencies in seconds per round trip, throughputs in items/s, idle cost in
// cores.
#include <fcntl.h>
#include <fmt/core.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>
#include <mp/errors.hpp>
#include <mp/executor.hpp>
#include <mp/memory.hpp>
#include <mp/parallel.hpp>
#include <mp/pool.hpp>
#include <mp/pool_options.hpp>
#include <mp/process.hpp>
#include <mp/progress.hpp>
#include <mp/thread_pool.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <numeric>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "experiments.hpp"
#include "ipc_probes.hpp"
#include "peers.hpp"
#include "pools.hpp"
#include "table.hpp"
#include "workloads.hpp"

namespace mp_bench {

namespace {

struct Sizes {
  int apply = 0;         // round trips per run
  int map_small = 0;     // items of a chunksize-1 map
  int map_large = 0;     // items of an auto-chunksize map
  int map_progress = 0;  // items of the map shown with and without progress
  int memory_calls = 0;  // calls of a cached function per run
  int peer_trips = 0;    // round trips of the thread-based peers and the floor
  int async_trips = 0;
  int crashes = 0;        // worker crashes per crash.recovery run
  int outstanding = 0;    // apply_async calls waiting at once
  int parallel_tiny = 0;  // tiny calls of one Parallel call
  int queue_items = 0;    // ints through a queue per run
  int queue_big = 0;      // 1 MiB items through a queue per run
  int lock_pairs = 0;     // acquire + release pairs per run
  int handoffs = 0;       // pool calls handed a shared array per run
};

// One measurement of a per-task cost: a run returns its seconds per item (or per round
// trip) and whether its answer was right.
struct PerItem {
  double seconds = 0;
  bool ok = false;
};

struct Measured {
  std::vector<double> per_item;
  bool ok = true;
};

Measured repeat_per_item(Context& ctx, const std::string& label, int repeat,
                         const std::function<PerItem()>& run) {
  Measured m;
  for (int r = 0; r < repeat; ++r) {
    ctx.progress().show(label, r + 1, repeat);
    const PerItem p = run();
    m.per_item.push_back(p.seconds);
    m.ok = m.ok && p.ok;
  }
  return m;
}

// unit "s": seconds per round trip; unit "items/s": items / (seconds per run).
Record make_record(Context& ctx, std::string variant, std::string backend, int workers,
                   std::string unit, const Measured& m, Params params, long long items) {
  Record r;
  r.experiment = "overhead";
  r.variant = std::move(variant);
  r.backend = std::move(backend);
  r.workers = workers;
  r.params = std::move(params);
  r.params.integer("items", items);
  r.unit = std::move(unit);
  const Stats per = summarize(m.per_item);
  r.stats = r.unit == "items/s" ? rate_stats(per, 1.0) : per;
  r.ok = m.ok;
  r.answer = json_bool(m.ok);
  if (!m.ok) {
    ctx.fail(fmt::format("overhead {}: wrong results", r.variant));
  }
  return ctx.add(std::move(r));
}

// ---- mp::Pool ----------------------------------------------------------------------------

// `n` round trips of pool.apply(add_one, x), each waiting for the previous one.
PerItem apply_round_trips(mp::Pool& pool, int n) {
  int x = 0;
  const auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    x = pool.apply(add_one, x);
  }
  return {seconds_since(start) / n, x == n};
}

// add_one over 0..n-1 by `map` (items -> a fresh vector of results), timed per item and
// checked by the sum of the results.
template <class Map>
PerItem time_trivial_map(int n, Map map) {
  std::vector<int> items(static_cast<std::size_t>(n));
  std::iota(items.begin(), items.end(), 0);
  const auto start = Clock::now();
  const std::vector<int> out = map(items);
  const double t = seconds_since(start);
  const long long sum = std::accumulate(out.begin(), out.end(), 0LL);
  return {t / n, sum == static_cast<long long>(n) * (n + 1) / 2};
}

// pool.map(add_one, 0..n-1, chunksize); chunksize 0: auto.
PerItem map_trivial(mp::Pool& pool, int n, long long chunksize) {
  return time_trivial_map(n, [&](const std::vector<int>& items) {
    return chunksize > 0 ? pool.map(add_one, items, chunksize) : pool.map(add_one, items);
  });
}

// `n` round trips of submit(add_one, x).result() on an executor (process or thread), or
// of apply on a ThreadPool: each waits for the previous one.
template <class Executor>
PerItem submit_round_trips(Executor& ex, int n) {
  auto trip = [&ex](int x) {
    if constexpr (requires { ex.submit(add_one, x); }) {
      return ex.submit(add_one, x).result();
    } else {
      return ex.apply(add_one, x);
    }
  };
  for (int i = 0; i < 100; ++i) {
    trip(i);  // the workers are up and spinning, as in the pool.apply probe
  }
  int x = 0;
  const auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    x = trip(x);
  }
  return {seconds_since(start) / n, x == n};
}

// joblib's benchmark: Parallel over n tiny calls (delayed(add_one)(i)), automatic
// batching, the workers started before the clock.
PerItem parallel_tiny(mp::Parallel& parallel, int n) {
  std::vector<int> items(static_cast<std::size_t>(n));
  std::iota(items.begin(), items.end(), 0);
  const auto calls = mp::delayed(add_one).over(items);
  const auto start = Clock::now();
  const std::vector<int> out = parallel(calls);
  const double t = seconds_since(start);
  const long long sum = std::accumulate(out.begin(), out.end(), 0LL);
  return {t / n, sum == static_cast<long long>(n) * (n + 1) / 2};
}

// Per call: `outstanding` apply_async calls submitted, then every result taken. The cost
// per call must not grow with the number waiting.
PerItem apply_async_outstanding(mp::Pool& pool, int outstanding) {
  std::vector<mp::AsyncResult<int>> results;
  results.reserve(static_cast<std::size_t>(outstanding));
  const auto start = Clock::now();
  for (int i = 0; i < outstanding; ++i) {
    results.push_back(pool.apply_async(add_one, i));
  }
  long long sum = 0;
  for (auto& r : results) {
    sum += r.get();
  }
  const double t = seconds_since(start);
  const long long n = outstanding;
  return {t / outstanding, sum == n * (n + 1) / 2};
}

int sleep_for_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

// The share of a map_async finished while the caller sleeps without any Pool call:
// `work` of sleeping tasks (10 ms each) over the workers, then a sleep 1.5 times as long
// as that work takes on them. 1.0: all of it ran without the caller.
PerItem map_async_background(mp::Pool& pool, int workers, std::chrono::milliseconds work) {
  const int tasks = static_cast<int>(work.count() / 10) * workers;
  std::atomic<int> done{0};
  auto r = pool.map_async(sleep_for_ms, std::vector<int>(static_cast<std::size_t>(tasks), 10), 1,
                          mp::callbacks([&](const std::vector<int>&) { done = tasks; }));
  std::this_thread::sleep_for(work * 3 / 2);
  const int finished = done.load();
  const bool ok = r.get().size() == static_cast<std::size_t>(tasks);
  return {static_cast<double>(finished) / tasks, ok};
}

// Start a pool, run one task, close and join. The fork server is started (once per
// program) before the clock starts.
PerItem pool_startup(int workers, mp::StartMethod method) {
  mp::PoolOptions options;
  options.processes = workers;
  options.start_method = method;
  if (method == mp::StartMethod::forkserver) {
    mp::Pool warm(options);
  }
  const auto start = Clock::now();
  mp::Pool pool(options);
  const int y = pool.apply(add_one, 1);
  pool.close();
  pool.join();
  return {seconds_since(start), y == 2};
}

// pool_startup over floor.fork_wait, each run measuring the two back to back (in
// alternating order), so that both see the same process and the same machine: fork's
// cost grows with what the process has touched and with what the machine is doing.
PerItem startup_over_floor(int workers, mp::StartMethod method) {
  static int turn = 0;
  const bool floor_first = (turn++ % 2) == 0;
  peers::RoundTrips floor;
  if (floor_first) {
    floor = peers::fork_wait(workers);
  }
  const PerItem pool = pool_startup(workers, method);
  if (!floor_first) {
    floor = peers::fork_wait(workers);
  }
  return {pool.seconds / floor.seconds, pool.ok && floor.ok};
}

// A map of `n` trivial items with a progress display over the same map without, measured
// back to back in alternating order in each run. The display is what a log gets (lines,
// into /dev/null here) plus a callback: the caller wakes each interval to draw.
PerItem progress_over_plain(mp::Pool& pool, int n) {
  static int turn = 0;
  const bool plain_first = (turn++ % 2) == 0;
  const int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  std::size_t calls = 0;
  const mp::Progress progress{.callback = [&calls](const mp::ProgressInfo&) { ++calls; },
                              .line_interval = std::chrono::milliseconds(100),
                              .fd = null};
  PerItem plain;
  if (plain_first) {
    plain = map_trivial(pool, n, 0);
  }
  const PerItem shown = time_trivial_map(
      n, [&](const std::vector<int>& items) { return pool.map(add_one, items, progress); });
  if (!plain_first) {
    plain = map_trivial(pool, n, 0);
  }
  ::close(null);
  return {shown.seconds / plain.seconds, null >= 0 && shown.ok && plain.ok && calls >= 1};
}

// mp::Memory per call of a cached add_one, in a fresh cache directory: a hit (the same
// argument each time, after one call stored it) or a miss (new arguments each run:
// computed and stored). Each returns 1 + its argument minus the argument, so the answer
// is `n` in both.
PerItem memory_calls(int n, bool hit) {
  static int run = 0;
  char tmpl[] = "/tmp/mp-bench-memory-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    return {0, false};
  }
  const std::string dir = tmpl;
  long long answer = 0;
  double seconds = 0;
  {
    mp::Memory memory(dir);
    const auto cached = memory.cache(add_one);
    const int first = hit ? 0 : ++run * n;
    if (hit) {
      cached(0);
    }
    const auto start = Clock::now();
    for (int i = 0; i < n; ++i) {
      const int x = hit ? 0 : first + i;
      answer += cached(x) - x;
    }
    seconds = seconds_since(start);
  }
  std::filesystem::remove_all(dir);
  return {seconds / n, answer == n};
}

int kill_own_worker(int) {
  ::raise(SIGKILL);
  return 0;
}

// From a task that SIGKILLs its worker to the replacement's answer to the next task, per
// crash: the pool notices the death, fails the task with WorkerCrashed, forks a new
// worker. One worker, so the next task has to wait for the replacement.
PerItem crash_recovery(int crashes) {
  mp::Pool pool(1);
  bool ok = pool.apply(add_one, 1) == 2;
  const auto start = Clock::now();
  for (int i = 0; i < crashes; ++i) {
    try {
      pool.apply(kill_own_worker, i);
      ok = false;
    } catch (const mp::WorkerCrashed& e) {
      ok = ok && e.signal() == SIGKILL;
    }
    ok = ok && pool.apply(add_one, i) == i + 1;
  }
  return {seconds_since(start) / crashes, ok};
}

// CPU time (user + system) of a process so far, from /proc/<pid>/stat; < 0 if unknown.
double cpu_seconds(pid_t pid) {
  std::ifstream f(fmt::format("/proc/{}/stat", pid));
  std::string line;
  if (!std::getline(f, line)) {
    return -1;
  }
  const auto paren = line.rfind(')');  // the command name may hold spaces
  if (paren == std::string::npos) {
    return -1;
  }
  std::istringstream rest(line.substr(paren + 2));
  std::vector<std::string> fields;
  std::string field;
  while (rest >> field) {
    fields.push_back(field);
  }
  if (fields.size() < 13) {
    return -1;
  }
  // fields[0] is stat field 3 (state); utime and stime are fields 14 and 15.
  const double ticks = std::stod(fields[11]) + std::stod(fields[12]);
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// CPU used by the parent and the workers of an idle pool: after a map, 10 ms without
// work, then one idle second. In cores (1.0 = one core busy all the time).
PerItem idle_cpu(int workers) {
  auto pool = start_pool(workers);
  std::vector<int> items(1000);
  std::iota(items.begin(), items.end(), 0);
  pool->map(add_one, items, 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto total = [&] {
    double sum = cpu_seconds(::getpid());
    for (pid_t pid : pool->pids()) {
      sum += cpu_seconds(pid);
    }
    return sum;
  };
  const double before = total();
  const auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const double after = total();
  const double wall = seconds_since(start);
  return {(after - before) / wall, before >= 0 && static_cast<int>(pool->pids().size()) == workers};
}

Sizes sizes_for(const Context& ctx) {
  Sizes s;
  s.apply = ctx.quick() ? 2000 : 20000;
  s.map_small = ctx.quick() ? 20000 : 200000;
  s.map_large = ctx.quick() ? 1000000 : 10000000;
  s.peer_trips = ctx.quick() ? 20000 : 200000;
  s.async_trips = ctx.quick() ? 2000 : 20000;
  s.crashes = ctx.quick() ? 20 : 200;
  s.outstanding = 100000;
  s.parallel_tiny = 100000;
  s.map_progress = 1000000;
  s.memory_calls = ctx.quick() ? 1000 : 10000;
  s.queue_items = ctx.quick() ? 200000 : 2000000;
  s.queue_big = ctx.quick() ? 200 : 2000;
  s.lock_pairs = ctx.quick() ? 1000000 : 10000000;
  s.handoffs = ctx.quick() ? 200 : 2000;
  return s;
}

std::string label(const std::string& variant, int workers) {
  return fmt::format("overhead: {}, {} worker(s)", variant, workers);
}

// One overhead measurement: `run` returns the seconds per item (or per round trip) of one
// run. A new variant (an executor's submit, Parallel's tiny tasks) is one more Probe.
struct Probe {
  std::string name;
  std::string backend;
  std::string unit;  // s or items/s (seconds per item are turned into a rate), or cores
  int workers;
  long long items;
  Params params;
  int repeat;
  std::function<PerItem()> run;
  bool lingers = false;  // its threads spin on after a run (OpenMP)
};

PerItem as_per_item(const peers::RoundTrips& rt) { return {rt.seconds, rt.ok}; }

template <class F>
std::function<PerItem()> round_trips(F f) {
  return [f] { return as_per_item(f()); };
}

// The probes for `w` workers, in the order they run: mp first; the thread peers after
// the process ones, and TBB last, since its threads live on once started.
std::vector<Probe> probes(const Context& ctx, int w, const Sizes& n) {
  const int repeat = ctx.repeat();
  const auto spin = std::chrono::duration_cast<std::chrono::nanoseconds>(mp::PoolOptions{}.spin);
  std::shared_ptr<mp::Pool> pool = start_pool(w);
  std::vector<Probe> p;
  p.push_back({"pool.apply", "process", "s", w, n.apply, {}, repeat, [pool, n] {
                 return apply_round_trips(*pool, n.apply);
               }});
  p.push_back({"pool.map.chunksize1", "process", "items/s", w, n.map_small,
               Params{}.integer("chunksize", 1), repeat,
               [pool, n] { return map_trivial(*pool, n.map_small, 1); }});
  p.push_back({"pool.map.auto", "process", "items/s", w, n.map_large, {}, repeat, [pool, n] {
                 return map_trivial(*pool, n.map_large, 0);
               }});
  p.push_back(
      {"pool.map.progress.over_plain", "process", "x", w, n.map_progress, {}, repeat, [pool, n] {
         return progress_over_plain(*pool, n.map_progress);
       }});
  p.push_back({"pool.apply_async.outstanding", "process", "s", w, n.outstanding,
               Params{}.integer("outstanding", n.outstanding), repeat,
               [pool, n] { return apply_async_outstanding(*pool, n.outstanding); }});
  p.push_back({"pool.apply_async.outstanding1e3", "process", "s", w, 1000,
               Params{}.integer("outstanding", 1000), repeat,
               [pool] { return apply_async_outstanding(*pool, 1000); }});
  const auto work = std::chrono::milliseconds(ctx.quick() ? 300 : 2000);
  p.push_back({"pool.map_async.background", "process", "fraction", w, 0,
               Params{}.num("work_seconds", static_cast<double>(work.count()) / 1000), 1,
               [pool, w, work] { return map_async_background(*pool, w, work); }});
  p.push_back({"memory.hit", "disk", "s", 1, n.memory_calls, {}, repeat, [n] {
                 return memory_calls(n.memory_calls, true);
               }});
  p.push_back({"memory.miss", "disk", "s", 1, n.memory_calls, {}, repeat, [n] {
                 return memory_calls(n.memory_calls, false);
               }});
  pool.reset();  // the probes above hold it
  auto process_executor = std::make_shared<mp::ProcessPoolExecutor>(w);
  p.push_back(
      {"executor.process.submit", "process", "s", w, n.apply, {}, repeat, [process_executor, n] {
         return submit_round_trips(*process_executor, n.apply);
       }});
  auto thread_executor = std::make_shared<mp::ThreadPoolExecutor>(w);
  p.push_back(
      {"executor.thread.submit", "thread", "s", w, n.peer_trips, {}, repeat, [thread_executor, n] {
         return submit_round_trips(*thread_executor, n.peer_trips);
       }});
  auto parallel = std::make_shared<mp::Parallel>(w);
  p.push_back({"parallel.tiny", "process", "items/s", w, n.parallel_tiny,
               Params{}.integer("items", n.parallel_tiny), repeat,
               [parallel, n] { return parallel_tiny(*parallel, n.parallel_tiny); }});
  auto thread_pool = std::make_shared<mp::ThreadPool>(w);
  p.push_back({"threadpool.apply", "thread", "s", w, n.peer_trips, {}, repeat, [thread_pool, n] {
                 return submit_round_trips(*thread_pool, n.peer_trips);
               }});
  p.push_back({"floor.fork_wait", "process", "s", w, 1, {}, repeat, round_trips([w] {
                 return peers::fork_wait(w);
               })});
  p.push_back({"pool.startup", "process", "s", w, 1, {}, repeat, [w] {
                 return pool_startup(w, mp::StartMethod::fork);
               }});
  p.push_back({"pool.startup.forkserver", "process", "s", w, 1, {}, repeat, [w] {
                 return pool_startup(w, mp::StartMethod::forkserver);
               }});
  p.push_back({"pool.startup.over_floor", "process", "x", w, 1, {}, repeat, [w] {
                 return startup_over_floor(w, mp::StartMethod::fork);
               }});
  p.push_back({"pool.startup.forkserver.over_floor", "process", "x", w, 1, {}, repeat, [w] {
                 return startup_over_floor(w, mp::StartMethod::forkserver);
               }});
  p.push_back({"pool.startup.spawn", "process", "s", w, 1, {}, repeat, [w] {
                 return pool_startup(w, mp::StartMethod::spawn);
               }});
  p.push_back({"crash.recovery", "process", "s", 1, n.crashes, {}, repeat, [n] {
                 return crash_recovery(n.crashes);
               }});
  p.push_back({"pool.idle_cpu", "process", "cores", w, 0, Params{}.num("idle_seconds", 1.0),
               ctx.quick() ? 1 : 3, [w] { return idle_cpu(w); }});
  p.push_back({"queue.small", "process", "items/s", 2, n.queue_items, {}, repeat, round_trips([n] {
                 return ipc::queue_stream(n.queue_items, 0);
               })});
  p.push_back({"queue.1mib", "process", "items/s", 2, n.queue_big,
               Params{}.integer("item_bytes", 1 << 20), repeat,
               round_trips([n] { return ipc::queue_stream(n.queue_big, std::size_t{1} << 20); })});
  p.push_back({"queue.roundtrip", "process", "s", 2, n.apply, {}, repeat, round_trips([n] {
                 return ipc::queue_round_trips(n.apply);
               })});
  p.push_back({"pipe.roundtrip", "process", "s", 2, n.apply, {}, repeat, round_trips([n] {
                 return ipc::pipe_round_trips(n.apply);
               })});
  p.push_back({"lock.uncontended", "process", "s", 1, n.lock_pairs, {}, repeat, round_trips([n] {
                 return ipc::lock_uncontended(n.lock_pairs);
               })});
  p.push_back({"lock.contended", "process", "s", 2, n.lock_pairs / 10, {}, repeat, round_trips([n] {
                 return ipc::lock_contended(n.lock_pairs / 10);
               })});
  p.push_back({"value.increment", "process", "s", 1, n.lock_pairs, {}, repeat, round_trips([n] {
                 return ipc::value_increment(n.lock_pairs);
               })});
  for (const std::size_t bytes : {std::size_t{1} << 20, std::size_t{1} << 30}) {
    p.push_back({bytes == (std::size_t{1} << 20) ? "shared_array.handoff.1mib"
                                                 : "shared_array.handoff.1gib",
                 "process", "s", 1, n.handoffs,
                 Params{}.integer("array_bytes", static_cast<long long>(bytes)), repeat,
                 round_trips([n, bytes] { return ipc::shared_array_handoff(bytes, n.handoffs); })});
  }
  p.push_back({"floor.futex_spin", "process", "s", 2, n.peer_trips,
               Params{}.integer("spin_us", spin.count() / 1000), repeat,
               round_trips([n, spin] { return peers::futex_ping_pong(n.peer_trips, spin); })});
  // ~50 us a trip: a fiftieth of the futex floor's trips takes about as long as those.
  const int pipe_trips = std::max(400, n.peer_trips / 50);
  p.push_back({"peer.raw_pipe.roundtrip",
               "process",
               "s",
               2,
               pipe_trips,
               {},
               repeat,
               round_trips([pipe_trips] { return peers::pipe_ping_pong(pipe_trips); })});
  p.push_back({"peer.boost_mq.roundtrip",
               "process",
               "s",
               2,
               pipe_trips,
               {},
               repeat,
               round_trips([pipe_trips] { return peers::boost_mq_ping_pong(pipe_trips); })});
  p.push_back({"peer.threadpool", "thread", "s", w, n.peer_trips, {}, repeat, round_trips([n, w] {
                 return peers::thread_pool(n.peer_trips, w);
               })});
  p.push_back({"peer.std_async", "thread", "s", 1, n.async_trips, {}, repeat, round_trips([n] {
                 return peers::std_async(n.async_trips);
               })});
  if (peers::have_openmp()) {
    p.push_back({"peer.openmp.dynamic1", "openmp", "items/s", w, n.map_large,
                 Params{}.integer("chunksize", 1), repeat,
                 [n, w] {
                   peers::openmp_warm(w);
                   const auto start = Clock::now();
                   const long long sum = peers::openmp_trivial(n.map_large, w);
                   const long long m = n.map_large;
                   return PerItem{seconds_since(start) / n.map_large, sum == m * (m + 1) / 2};
                 },
                 true});
    p.push_back({"peer.openmp.map.static",
                 "openmp",
                 "items/s",
                 w,
                 n.map_large,
                 {},
                 repeat,
                 [n, w] {
                   peers::openmp_warm(w);
                   return time_trivial_map(n.map_large, [w](const std::vector<int>& items) {
                     return peers::openmp_map_static(items, w);
                   });
                 },
                 true});
  }
  if (peers::have_tbb()) {
    p.push_back(
        {"peer.tbb.task_group", "tbb", "s", w, n.peer_trips, {}, repeat, round_trips([n, w] {
           return peers::tbb_task_group(n.peer_trips, w);
         })});
  }
  return p;
}

}  // namespace

Record overhead_measure(Context& ctx, std::string_view variant, int workers, int items) {
  const std::string name(variant);
  // Only the pool's own variants need one; the others start what they measure.
  const std::shared_ptr<mp::Pool> pool = name.starts_with("pool.") ? start_pool(workers) : nullptr;
  std::function<PerItem()> run;
  // Initialised, not assigned: g++ 12 -O3 warns falsely (-Wrestrict) on assigning a literal.
  const std::string unit = name == "pool.apply" || name.ends_with(".submit") ||
                                   name.ends_with(".roundtrip") || name.starts_with("lock.") ||
                                   name.starts_with("memory.")
                               ? "s"
                               : "items/s";
  std::unique_ptr<mp::ProcessPoolExecutor> process_executor;
  std::unique_ptr<mp::ThreadPoolExecutor> thread_executor;
  if (name == "pool.apply") {
    run = [&] { return apply_round_trips(*pool, items); };
  } else if (name == "parallel.tiny") {
    auto parallel = std::make_shared<mp::Parallel>(workers);
    run = [parallel, items] { return parallel_tiny(*parallel, items); };
  } else if (name == "executor.process.submit") {
    process_executor = std::make_unique<mp::ProcessPoolExecutor>(workers);
    run = [&] { return submit_round_trips(*process_executor, items); };
  } else if (name == "executor.thread.submit") {
    thread_executor = std::make_unique<mp::ThreadPoolExecutor>(workers);
    run = [&] { return submit_round_trips(*thread_executor, items); };
  } else if (name == "queue.small" || name == "queue.1mib") {
    const std::size_t bytes = name == "queue.small" ? 0 : std::size_t{1} << 20;
    run = [items, bytes] { return as_per_item(ipc::queue_stream(items, bytes)); };
  } else if (name == "queue.roundtrip") {
    run = [items] { return as_per_item(ipc::queue_round_trips(items)); };
  } else if (name == "pipe.roundtrip") {
    run = [items] { return as_per_item(ipc::pipe_round_trips(items)); };
  } else if (name == "lock.uncontended") {
    run = [items] { return as_per_item(ipc::lock_uncontended(items)); };
  } else if (name == "memory.hit" || name == "memory.miss") {
    run = [items, hit = name == "memory.hit"] { return memory_calls(items, hit); };
  } else if (name == "pool.map.chunksize1") {
    run = [&] { return map_trivial(*pool, items, 1); };
  } else if (name == "pool.map.auto") {
    run = [&] { return map_trivial(*pool, items, 0); };
  } else {
    throw std::logic_error("mp-bench: no overhead variant " + name);
  }
  const Measured m = repeat_per_item(ctx, label(name, workers), ctx.repeat(), run);
  Params p;
  if (name == "pool.map.chunksize1") {
    p.integer("chunksize", 1);
  }
  return make_record(ctx, name, "process", workers, unit, m, p, items);
}

void run_overhead(Context& ctx) {
  const Sizes n = sizes_for(ctx);
  const int cpus = mp::cpu_count();
  const std::vector<int> workers = ctx.workers_or({cpus});
  const auto spin = mp::PoolOptions{}.spin;
  const int repeat = ctx.repeat();

  ctx.progress().clear();
  fmt::print("\n== overhead: the cost of a trivial task (add_one), beside C++ peers ==\n");
  fmt::print(
      "Round trips one at a time (latency), maps of many items (throughput), pool start-up\n"
      "and the CPU an idle pool uses. floor: two processes ping-ponging through shared\n"
      "memory, spinning {} us then sleeping on a futex (as mp does). Median of {} runs.\n\n",
      spin.count(), repeat);

  std::vector<Record> rows;
  for (int w : workers) {
    for (Probe& p : probes(ctx, w, n)) {
      if (!ctx.selects(p.name)) {
        continue;
      }
      const Measured m = repeat_per_item(ctx, label(p.name, p.workers), p.repeat, p.run);
      p.run = nullptr;  // releases what it holds (the last pool probe: the pool)
      rows.push_back(make_record(ctx, p.name, p.backend, p.workers, p.unit, m, p.params, p.items));
      if (p.lingers) {
        pause_for_lingering_threads();
      }
    }
  }

  ctx.progress().clear();
  Table table({"variant", "backend", "workers", "median", "min", "max", "per item", "check"});
  auto fmt_value = [](const Record& r, double v) {
    if (r.unit == "items/s") {
      return human_rate(v);
    }
    if (r.unit == "cores") {
      return fmt::format("{:.3f} cores", v);
    }
    if (r.unit == "x") {
      return fmt::format("{:.2f}x", v);
    }
    if (r.unit == "fraction") {
      return fmt::format("{:.0f} % done", v * 100);
    }
    return human_seconds(v);
  };
  int last_w = 0;
  for (const Record& r : rows) {
    if (last_w != 0 && r.variant == "pool.apply") {
      table.separator();
    }
    last_w = r.workers;
    std::string per_item;
    if (r.unit == "items/s") {
      per_item = human_seconds(1 / r.stats.median);
    } else if (r.unit == "s") {
      per_item = human_seconds(r.stats.median);
    }
    table.row({r.variant, r.backend, fmt::format("{}", r.workers), fmt_value(r, r.stats.median),
               fmt_value(r, r.stats.min), fmt_value(r, r.stats.max), per_item,
               r.ok ? "ok" : "WRONG"});
  }
  table.print();
  fmt::print(
      "\n  per item: the latency of one round trip, or the time per item of a map (1 / rate).\n"
      "  floor.fork_wait: fork two children that exit at once, wait for both; *.over_floor:\n"
      "  pool start-up over that floor, the two measured back to back in each run.\n"
      "  pool.map.progress.over_plain: pool.map.auto with a progress display (log lines and a\n"
      "  callback) over the same map without, back to back in each run.\n"
      "  peer.openmp.map.static: pool.map.auto's work on threads, into a fresh vector.\n"
      "  peer.raw_pipe.roundtrip: pipe.roundtrip's trip over two plain pipes (read/write).\n"
      "  peer.boost_mq.roundtrip: the same trip over two Boost.Interprocess message_queues.\n"
      "  tbb::task_group::wait() may run the task on the calling thread itself.\n");

  if (ctx.plotter().enabled()) {
    const int w = workers.back();
    std::string csv = "variant,seconds\n";
    for (const Record& r : rows) {
      if (r.workers != w && r.variant != "floor.futex_spin" && r.variant != "peer.std_async") {
        continue;
      }
      if (r.unit == "items/s") {
        csv += fmt::format("{},{}\n", r.variant, 1 / r.stats.median);
      } else if (r.unit == "s") {
        csv += fmt::format("{},{}\n", r.variant, r.stats.median);
      }
    }
    const std::string script = fmt::format(
        "set termoption noenhanced\n"
        "set title 'cost per trivial task, {} workers (median of {}; log scale)'\n"
        "set style fill solid 0.8 border -1\n"
        "set boxwidth 0.7\n"
        "set logscale y\n"
        "set format y '%.0e'\n"
        "set ylabel 'seconds per task or round trip'\n"
        "set xtics rotate by -30\n"
        "set grid ytics\n"
        "set bmargin 7\n"
        "plot csv using 0:2:xtic(1) with boxes lc rgb 'steelblue' notitle, "
        "csv using 0:2:(sprintf('%.2g', column(2))) with labels offset 0,1 notitle\n",
        w, repeat);
    ctx.plotter().plot("overhead", csv, script);
  }
}

}  // namespace mp_bench
