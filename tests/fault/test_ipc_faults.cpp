// Processes killed while they hold or await a shared lock, barrier or queue: the others
// are told, never left hanging, and the queue loses nothing it acknowledged.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mp/mp.hpp>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "helpers/eventually.hpp"
#include "helpers/hygiene.hpp"
#include "helpers/start_methods.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using IpcFaults = mp::test::StartMethodTest;

void hold_forever(mp::Lock lock, mp::Event holding) {
  lock.acquire();
  holding.set();
  for (;;) pause();
}

TEST_P(IpcFaults, AHolderKilledInItsCriticalSectionIsReportedToTheNextOwner) {
  mp::Lock lock;
  mp::Event holding;
  mp::Process p = start_process(hold_forever, lock, holding);
  ASSERT_TRUE(holding.wait_for(30s));
  EXPECT_FALSE(lock.try_acquire());
  p.kill();  // not joined yet: the holder is a zombie while the parent waits
  const auto t0 = Clock::now();
  EXPECT_THROW(lock.acquire(), mp::OwnerDied);
  EXPECT_LT(Clock::now() - t0, 5s);
  EXPECT_TRUE(lock.locked());  // the caller holds it now
  lock.release();
  EXPECT_TRUE(lock.acquire_for(1s));
  lock.release();
  p.join();
  EXPECT_EQ(p.exitcode(), -SIGKILL);
  mp::test::user_sees(
      "a process SIGKILLed holding an mp::Lock: the next acquire gets mp::OwnerDied within "
      "~20 ms, holding the lock (Python: every acquirer hangs)");
}

void two_phases(mp::Barrier b, mp::RawArray<int> indices, int who) {
  indices[static_cast<std::size_t>(who)] = b.wait();
  try {
    b.wait_for(60s);
  } catch (const mp::BrokenBarrierError&) {
    _exit(3);
  }
}

void one_phase_then_hang(mp::Barrier b, mp::Event passed) {
  b.wait();
  passed.set();
  for (;;) pause();
}

TEST_P(IpcFaults, ABarrierBreaksWhenAParticipantDies) {
  mp::Barrier b(3);
  mp::RawArray<int> indices(2);
  mp::Process a = start_process(two_phases, b, indices, 0);
  mp::Process c = start_process(two_phases, b, indices, 1);
  mp::Event passed;
  mp::Process doomed = start_process(one_phase_then_hang, b, passed);
  // The others wait in the second phase; the doomed process passed the first.
  ASSERT_TRUE(passed.wait_for(30s));
  ASSERT_TRUE(mp::test::eventually([&] { return b.n_waiting() == 2; }, 30s));
  doomed.kill();
  doomed.join();
  ASSERT_TRUE(a.join(30s));
  ASSERT_TRUE(c.join(30s));
  EXPECT_EQ(a.exitcode(), 3);
  EXPECT_EQ(c.exitcode(), 3);
  EXPECT_NE(indices[0], indices[1]);
  EXPECT_TRUE(b.broken());
  mp::test::user_sees(
      "a process killed before it reaches an mp::Barrier it used before: the others get "
      "mp::BrokenBarrierError (Python: they hang unless a timeout was given)");
}

void put_a_huge_item(mp::Queue<std::vector<char>> q, mp::Event starting) {
  starting.set();
  q.put(std::vector<char>(std::size_t{256} << 20, 'x'));
}

void wait_for_an_item(mp::Queue<std::vector<char>> q, mp::Event waiting) {
  waiting.set();
  q.get();
}

TEST_P(IpcFaults, AQueueOutlivesProcessesKilledWhileTheyPutOrGet) {
  mp::Queue<std::vector<char>> q;
  mp::Event starting, waiting;
  mp::Process writer = start_process(put_a_huge_item, q, starting);
  mp::Process reader = start_process(wait_for_an_item, q, waiting);
  ASSERT_TRUE(starting.wait_for(30s));
  ASSERT_TRUE(waiting.wait_for(30s));
  std::this_thread::sleep_for(30ms);  // the writer is copying 256 MiB
  writer.kill();
  reader.kill();
  writer.join();
  reader.join();
  EXPECT_EQ(q.qsize(), 0u);  // nothing half-written is ever seen
  q.put(std::vector<char>(3, 'a'));
  EXPECT_EQ(q.get(10s), std::vector<char>(3, 'a'));
  mp::test::user_sees(
      "a process SIGKILLed while it puts a 256 MiB item into an mp::Queue, another while it "
      "waits in get: the queue works on, the half-written item is never seen (Python: the "
      "queue may be corrupted for everyone)");
}

void wait_on_a_pipe(mp::Connection<int> c) {
  c.send(1);  // ready
  c.recv();
}

TEST_P(IpcFaults, APipesPeerKilledWhileAPoolLivesIsEOF) {
  auto [mine, theirs] = mp::Pipe<int>();
  mp::Pool pool(options(2));  // forked workers inherit every descriptor of this process
  mp::Process child = start_process(wait_on_a_pipe, theirs);
  theirs.close();
  ASSERT_EQ(mine.recv(), 1);
  child.kill();
  child.join();
  const auto start = Clock::now();
  EXPECT_THROW(mine.recv(), mp::EOFError);
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_THROW(mine.send(2), mp::BrokenPipeError);
  EXPECT_EQ(pool.map([](int x) { return x + 1; }, std::vector<int>{1, 2}),
            (std::vector<int>{2, 3}));
  mp::test::user_sees(
      "the process at the other end of an mp::Pipe is SIGKILLed while the caller waits in "
      "recv, with a Pool's forked workers alive: recv throws `mp::EOFError`, send "
      "`mp::BrokenPipeError` (Python: recv hangs while any forked process holds the end)");
}

// What a victim process reports before it is killed: the processes it started and every
// shared memory file it holds (its own objects' and its pool's), by inode.
struct VictimReport {
  int processes = 0;
  pid_t pids[8] = {};
  int files = 0;
  std::uint64_t inodes[256] = {};
  char shm_name[64] = {};
};

int use_everything(mp::Queue<int> q, mp::Lock lock, mp::RawArray<double> a, mp::Event go) {
  {
    std::lock_guard g(lock);
    a[0] += 1;
  }
  q.put(1);
  go.wait();
  return 0;
}

void hold_objects(mp::Lock lock, mp::Array<long> counts, mp::Value<long> total, mp::Event go) {
  {
    std::lock_guard g(lock);
    counts[0] = 1;
    total.store(1);
  }
  go.wait();
}

// The parent is SIGKILLed while its queue, lock, event, arrays, named segment and pool are
// in use by its workers and a daemon child: nothing of it is left. The probe is a child
// subreaper, so the victim's orphans are handed to it and it can see them go.
TEST_P(IpcFaults, NothingOutlivesAParentKilledWhileItsObjectsAreInUse) {
  mp::Process probe([method = GetParam()] {
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) std::exit(20);
    int fds[2];
    if (::pipe(fds) != 0) std::exit(21);
    const int write_fd = fds[1];
    mp::Process victim([write_fd, method] {
      mp::Queue<int> q;
      mp::Lock lock;
      mp::Event go;
      mp::RawArray<double> a(std::size_t{1} << 20);
      mp::Array<long> counts(16);
      mp::Value<long> total(0);
      mp::SharedMemory named = mp::SharedMemory::create(1 << 20);
      mp::PoolOptions o;
      o.processes = 2;
      o.start_method = method;
      mp::Pool pool(o);
      mp::Process holder = mp::Context(method).process(hold_objects, lock, counts, total, go);
      holder.set_daemon(true);  // a non-daemon child outlives a killed parent, as in Python
      holder.start();
      auto busy1 = pool.apply_async(use_everything, q, lock, a, go);
      auto busy2 = pool.apply_async(use_everything, q, lock, a, go);
      q.get();
      q.get();
      VictimReport r;
      for (const pid_t pid : pool.pids()) r.pids[r.processes++] = pid;
      r.pids[r.processes++] = holder.pid();
      for (const std::uint64_t inode : mp::test::memory_files_of_this_process()) {
        if (r.files < 256) r.inodes[r.files++] = inode;
      }
      std::snprintf(r.shm_name, sizeof r.shm_name, "%s", named.name().c_str());
      (void)!::write(write_fd, &r, sizeof r);
      ::raise(SIGKILL);
    });
    victim.start();
    ::close(fds[1]);
    VictimReport r;
    if (::read(fds[0], &r, sizeof r) != static_cast<ssize_t>(sizeof r)) std::exit(22);
    victim.join();
    if (victim.exitcode() != -SIGKILL) std::exit(23);
    if (r.processes != 3 || r.files < 6) std::exit(24);
    const std::set<std::uint64_t> inodes(r.inodes, r.inodes + r.files);
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    const auto all_gone = [&] {
      while (::waitpid(-1, nullptr, WNOHANG) > 0) {
      }
      for (int i = 0; i < r.processes; ++i) {
        if (::kill(r.pids[i], 0) == 0) return false;
      }
      return mp::test::child_pids().empty() &&
             !std::filesystem::exists(std::string("/dev/shm/") + r.shm_name) &&
             mp::test::processes_with_memory_files(inodes).empty();
    };
    while (!all_gone() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);
    }
    if (all_gone()) std::exit(0);
    for (const std::string& h : mp::test::processes_with_memory_files(inodes))
      std::fprintf(stderr, "left: %s\n", h.c_str());
    std::exit(25);
  });
  probe.start();
  probe.join();
  EXPECT_EQ(probe.exitcode(), 0);
  mp::test::user_sees(
      "the parent is SIGKILLed while its queue, locks, event, arrays, named shared memory and "
      "pool are in use by its workers and a daemon child: every process it started is gone, "
      "no process holds or maps any of its memory, the name is unlinked (Python: daemonic "
      "Pool workers are stopped only by a parent that exits normally)");
}

void die_inside_update(mp::SharedDict<int, int> d) {
  d.set(1, 1);
  d.update(2, [](std::optional<int>) -> int {
    ::raise(SIGKILL);
    return 0;
  });
}

TEST_P(IpcFaults, AProcessKilledWhileChangingASharedDictBreaksIt) {
  mp::test::user_sees(
      "A process is SIGKILLed inside SharedDict::update, holding the dict's lock: the other "
      "processes' next calls throw `mp::OwnerDied` (its entries may be half-changed), never "
      "hang");
  mp::SharedDict<int, int> d;
  mp::Process p = start_process(die_inside_update, d);
  ASSERT_TRUE(p.join(60s));
  EXPECT_EQ(p.exitcode(), -SIGKILL);
  EXPECT_THROW(d.get(1), mp::OwnerDied);
  EXPECT_THROW(d.set(3, 3), mp::OwnerDied);
}

MP_TEST_ALL_START_METHODS(IpcFaults);

}  // namespace
