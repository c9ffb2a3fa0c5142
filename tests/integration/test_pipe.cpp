// Pipes between processes started every way: items arrive in order both ways whatever
// their size; poll, simplex ends and close behave as in Python; a peer that exits or closes
// its end is an EOFError for recv and a BrokenPipeError for send, never a hang.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <mp/mp.hpp>
#include <string>
#include <thread>
#include <vector>

#include "helpers/hygiene.hpp"
#include "helpers/start_methods.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using Pipes = mp::test::StartMethodTest;
using PipeBasics = mp::test::HygieneTest;

// Answers each string with its length and the string reversed, until the empty string.
void echo(mp::Connection<std::string> c) {
  for (std::string s = c.recv(); !s.empty(); s = c.recv()) {
    c.send(std::to_string(s.size()) + ":" + std::string(s.rbegin(), s.rend()));
  }
}

TEST_P(Pipes, ItemsGoBothWaysInOrder) {
  auto [mine, theirs] = mp::Pipe<std::string>();
  mp::Process child = start_process(echo, theirs);
  theirs.close();
  for (int i = 1; i <= 500; ++i) mine.send(std::to_string(i) + "ab");
  for (int i = 1; i <= 500; ++i) {
    const std::string s = std::to_string(i) + "ab";
    EXPECT_EQ(mine.recv(), std::to_string(s.size()) + ":" + std::string(s.rbegin(), s.rend()));
  }
  const std::string large(64u << 20, 'z');  // larger than the pipe's first buffer
  mine.send(large);
  EXPECT_EQ(mine.recv().size(), large.size() + std::to_string(large.size()).size() + 1);
  mine.send("");
  mp::test::join_ok(child, 60s);
}

void send_three_and_exit(mp::Connection<int> c) {
  for (int i = 0; i < 3; ++i) c.send(i);
}

TEST_P(Pipes, RecvAfterThePeerExitedGetsWhatItSentThenEOF) {
  auto [mine, theirs] = mp::Pipe<int>();
  mp::Process child = start_process(send_three_and_exit, theirs);
  theirs.close();
  mp::test::join_ok(child, 60s);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(mine.recv(), i);
  const auto start = Clock::now();
  EXPECT_THROW(mine.recv(), mp::EOFError);
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_TRUE(mine.poll());  // recv would not wait: it throws at once
}

TEST_P(Pipes, SendToAPeerThatExitedIsBrokenPipe) {
  auto [mine, theirs] = mp::Pipe<int>();
  mp::Process child = start_process([](mp::Connection<int>) {}, theirs);
  theirs.close();
  mp::test::join_ok(child, 60s);
  bool broken = false;
  const auto give_up = Clock::now() + 10s;
  while (!broken && Clock::now() < give_up) {
    try {
      mine.send(1);
    } catch (const mp::BrokenPipeError&) {
      broken = true;
    }
  }
  EXPECT_TRUE(broken);
}

void wait_for_word(mp::Connection<std::string> c) {
  if (c.recv() != "go") std::exit(3);
  c.send("done");
}

TEST_P(Pipes, ChildSeesItsParentCloseItsEnd) {
  // The child waits in recv; the parent closes its end without sending: EOF in the child,
  // whose target then throws, which its exit code says.
  auto [mine, theirs] = mp::Pipe<std::string>();
  mp::Process child = start_process(wait_for_word, theirs);
  theirs.close();
  mine.close();
  ASSERT_TRUE(child.join(60s));
  EXPECT_EQ(child.exitcode(), 1);
  ASSERT_TRUE(child.exception());
  try {
    std::rethrow_exception(child.exception());
  } catch (const mp::RemoteError& e) {
    EXPECT_NE(e.type().find("EOFError"), std::string::npos) << e.what();
  }
}

void announce_worker(mp::Connection<int> c) { c.send(static_cast<int>(::getpid())); }

TEST_P(Pipes, PoolInitializersUseAPipe) {
  auto [mine, theirs] = mp::Pipe<int>(false);  // mine receives, theirs sends
  mp::PoolOptions o = options(2);
  o.initializer = mp::bind_initializer(announce_worker, theirs);
  mp::Pool pool(o);
  theirs.close();
  std::vector<int> pids{mine.recv(), mine.recv()};
  std::sort(pids.begin(), pids.end());
  std::vector<int> workers;
  for (pid_t pid : pool.pids()) workers.push_back(static_cast<int>(pid));
  std::sort(workers.begin(), workers.end());
  EXPECT_EQ(pids, workers);
}

TEST_P(Pipes, PoolTasksUseAPipe) {
  auto [mine, theirs] = mp::Pipe<int>(false);  // mine receives, theirs sends
  mp::Pool pool(options(2));
  // A task receives the end as an argument (reopened in the worker) and sends through it.
  auto sent = pool.map(
      [](std::pair<int, mp::Connection<int>> a) {
        a.second.send(a.first * 10);
        return a.first;
      },
      std::vector<std::pair<int, mp::Connection<int>>>{{1, theirs}, {2, theirs}}, 1);
  EXPECT_EQ(sent, (std::vector<int>{1, 2}));
  int sum = 0;
  for (int i = 0; i < 2; ++i) sum += mine.recv();
  EXPECT_EQ(sum, 30);
  EXPECT_FALSE(mine.poll());
}

TEST_F(PipeBasics, PollWaitsAtMostItsTimeout) {
  auto [a, b] = mp::Pipe<int>();
  EXPECT_FALSE(a.poll());
  const auto start = Clock::now();
  EXPECT_FALSE(a.poll(50ms));
  EXPECT_GE(Clock::now() - start, 50ms);
  b.send(7);
  EXPECT_TRUE(a.poll(0s));
  EXPECT_TRUE(a.poll());
  EXPECT_EQ(a.recv(), 7);
  std::thread later([sender = b]() mutable {
    std::this_thread::sleep_for(20ms);
    sender.send(8);
  });
  EXPECT_TRUE(a.poll(30s));
  later.join();
  EXPECT_EQ(a.recv(), 8);
}

TEST_F(PipeBasics, SimplexEndsDoOneThingEach) {
  auto [r, w] = mp::Pipe<int>(false);
  EXPECT_TRUE(r.readable());
  EXPECT_FALSE(r.writable());
  EXPECT_TRUE(w.writable());
  EXPECT_FALSE(w.readable());
  EXPECT_THROW(r.send(1), std::logic_error);
  EXPECT_THROW(w.recv(), std::logic_error);
  w.send(5);
  EXPECT_EQ(r.recv(), 5);
}

TEST_F(PipeBasics, AClosedEndRefusesEveryCallAndItsPeerSeesEOF) {
  auto [a, b] = mp::Pipe<int>();
  mp::Connection<int> copy = b;  // a copy in this process is the same end
  b.send(1);
  copy.close();
  EXPECT_TRUE(b.closed());
  EXPECT_THROW(b.send(2), std::logic_error);
  EXPECT_THROW(b.recv(), std::logic_error);
  EXPECT_THROW(b.poll(), std::logic_error);
  EXPECT_EQ(a.recv(), 1);
  EXPECT_THROW(a.recv(), mp::EOFError);
  EXPECT_THROW(a.send(3), mp::BrokenPipeError);
}

TEST_F(PipeBasics, EmptyAndUserTypedItems) {
  auto [a, b] = mp::Pipe<std::vector<std::string>>();
  a.send({});
  a.send({"x", "", std::string(1 << 20, 'y')});
  EXPECT_TRUE(b.recv().empty());
  const auto v = b.recv();
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[2].size(), std::size_t{1} << 20);
}

MP_TEST_ALL_START_METHODS(Pipes);

}  // namespace
