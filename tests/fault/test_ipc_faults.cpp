// Processes killed while they hold or await a shared lock, barrier or queue: the others
// are told, never left hanging, and the queue loses nothing it acknowledged.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <mp/mp.hpp>
#include <mutex>
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

MP_TEST_ALL_START_METHODS(IpcFaults);

}  // namespace
