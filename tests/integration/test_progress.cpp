// Progress of long maps: callbacks on every pool kind and Parallel backend, plain lines
// into a pipe, one bar redrawn in place on a pseudo-terminal, lines printed above a bar,
// and nothing when quiet.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <mp/mp.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "helpers/hygiene.hpp"
#include "helpers/screen.hpp"

namespace {

using namespace std::chrono_literals;

int slow_square(int x) {
  std::this_thread::sleep_for(2ms);
  return x * x;
}

// For maps long enough to be interrupted: squares of their indices would overflow.
int slow_echo(int x) {
  std::this_thread::sleep_for(2ms);
  return x;
}

std::vector<int> upto(int n) {
  std::vector<int> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    v[static_cast<std::size_t>(i)] = i;
  }
  return v;
}

void expect_squares(const std::vector<int>& ys, int n) {
  ASSERT_EQ(ys.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    ASSERT_EQ(ys[static_cast<std::size_t>(i)], i * i) << i;
  }
}

// What a progress callback saw.
struct Seen {
  std::vector<mp::ProgressInfo> calls;
  mp::Progress progress() {
    return {.show = false,
            .callback = [this](const mp::ProgressInfo& i) { calls.push_back(i); },
            .interval = 20ms};
  }
};

// Several reports, never going back, the last one finished with every item in.
void expect_reports(const Seen& seen, std::size_t total) {
  ASSERT_GE(seen.calls.size(), 2u) << "a 200 ms map reported every 20 ms";
  for (std::size_t i = 1; i < seen.calls.size(); ++i) {
    EXPECT_GE(seen.calls[i].done, seen.calls[i - 1].done);
    EXPECT_GE(seen.calls[i].elapsed, seen.calls[i - 1].elapsed);
  }
  for (std::size_t i = 0; i + 1 < seen.calls.size(); ++i) {
    EXPECT_FALSE(seen.calls[i].finished);
    EXPECT_EQ(seen.calls[i].total, total);
  }
  const mp::ProgressInfo& last = seen.calls.back();
  EXPECT_TRUE(last.finished);
  EXPECT_EQ(last.done, total);
  EXPECT_EQ(last.total, total);
  EXPECT_GT(last.rate(), 0.0);
}

// Everything written to a pipe's (or a terminal's) read end until every writer closed it.
std::string drain(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return out;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
}

std::size_t count(const std::string& s, std::string_view what) {
  std::size_t n = 0;
  for (std::size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) {
    ++n;
  }
  return n;
}

class ProgressTest : public mp::test::HygieneTest {};

TEST_F(ProgressTest, PoolMapReportsToACallback) {
  mp::Pool pool(2);
  Seen seen;
  expect_squares(pool.map(slow_square, upto(200), 1, seen.progress()), 200);
  expect_reports(seen, 200);
  Seen starmap;
  std::vector<std::tuple<int>> args;
  for (int i = 0; i < 200; ++i) {
    args.emplace_back(i);
  }
  expect_squares(pool.starmap(slow_square, args, starmap.progress()), 200);
  EXPECT_TRUE(starmap.calls.back().finished);
  EXPECT_EQ(starmap.calls.back().done, 200u);
}

TEST_F(ProgressTest, ThreadPoolMapReportsToACallback) {
  mp::ThreadPool pool(2);
  Seen seen;
  expect_squares(pool.map(slow_square, upto(200), 1, seen.progress()), 200);
  expect_reports(seen, 200);
}

TEST_F(ProgressTest, ExecutorMapsReportTheResultsTaken) {
  Seen process_seen;
  Seen thread_seen;
  {
    mp::ProcessPoolExecutor processes(2);
    std::vector<int> ys;
    for (int y : processes.map(slow_square, upto(100), {.progress = process_seen.progress()})) {
      ys.push_back(y);
    }
    expect_squares(ys, 100);
  }
  {
    mp::ThreadPoolExecutor threads(2);
    std::vector<int> ys;
    for (int y : threads.map(slow_square, upto(100),
                             {.chunksize = 10, .progress = thread_seen.progress()})) {
      ys.push_back(y);
    }
    expect_squares(ys, 100);
  }
  for (const Seen* seen : {&process_seen, &thread_seen}) {
    ASSERT_FALSE(seen->calls.empty());
    EXPECT_TRUE(seen->calls.back().finished);
    EXPECT_EQ(seen->calls.back().done, 100u);
    EXPECT_EQ(seen->calls.back().total, 100u);
  }
}

TEST_F(ProgressTest, AsyncResultCountsItemsAsTheyComeIn) {
  mp::Pool pool(2);
  auto r = pool.map_async(slow_square, upto(200), 1);
  EXPECT_EQ(r.items_total(), 200u);
  std::size_t last = 0;
  while (!r.wait(5ms)) {
    EXPECT_GE(r.items_done(), last);
    last = r.items_done();
  }
  EXPECT_EQ(r.items_done(), 200u);
  EXPECT_LT(last, 200u);
  expect_squares(r.get(), 200);
}

TEST_F(ProgressTest, ParallelReportsOnEveryBackend) {
  for (const mp::Backend backend :
       {mp::Backend::processes, mp::Backend::threads, mp::Backend::sequential}) {
    Seen seen;
    mp::Parallel parallel(
        {.n_jobs = 2, .backend = backend, .progress = [&seen](const mp::ProgressInfo& i) {
           seen.calls.push_back(i);
         }});
    expect_squares(parallel(mp::delayed(slow_square).over(upto(150))), 150);
    ASSERT_FALSE(seen.calls.empty());
    EXPECT_TRUE(seen.calls.back().finished);
    EXPECT_EQ(seen.calls.back().done, 150u);
    EXPECT_EQ(seen.calls.back().total, 150u);

    // The generators report the results handed out.
    Seen streamed;
    mp::Parallel gen(
        {.n_jobs = 2, .backend = backend, .progress = [&streamed](const mp::ProgressInfo& i) {
           streamed.calls.push_back(i);
         }});
    std::vector<int> ys;
    for (int y : gen.generator(mp::delayed(slow_square).over(upto(50)))) {
      ys.push_back(y);
    }
    expect_squares(ys, 50);
    ASSERT_FALSE(streamed.calls.empty());
    EXPECT_TRUE(streamed.calls.back().finished);
    EXPECT_EQ(streamed.calls.back().done, 50u);
  }
}

TEST_F(ProgressTest, APipeGetsPlainLinesAndAFinalOne) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  {
    mp::Pool pool(2);
    expect_squares(pool.map(slow_square, upto(200), 1,
                            mp::Progress{.label = "squares", .line_interval = 50ms, .fd = fds[1]}),
                   200);
  }
  ::close(fds[1]);
  const std::string out = drain(fds[0]);
  ::close(fds[0]);
  EXPECT_EQ(out.find('\r'), std::string::npos) << out;
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n');
  EXPECT_GE(count(out, "\n"), 2u) << "about 200 ms of work, a line every 50 ms:\n" << out;
  EXPECT_EQ(count(out, "squares: "), count(out, "\n")) << out;
  const std::string last = out.substr(out.rfind('\n', out.size() - 2) + 1);
  EXPECT_EQ(last.rfind("squares: 200/200 (100%) done in ", 0), 0u) << last;
}

TEST_F(ProgressTest, QuietWritesNothing) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  {
    mp::ThreadPool pool(2);
    expect_squares(pool.map(slow_square, upto(50), mp::Progress{.show = false, .fd = fds[1]}), 50);
  }
  ::close(fds[1]);
  EXPECT_EQ(drain(fds[0]), "");
  ::close(fds[0]);
}

// A pseudo-terminal of 80 columns: {the terminal's end, the program's end}.
std::pair<int, int> open_terminal(int rows = 24) {
  winsize ws{};
  ws.ws_col = 80;
  ws.ws_row = static_cast<unsigned short>(rows);
  int master = -1;
  int slave = -1;
  if (::openpty(&master, &slave, nullptr, nullptr, &ws) != 0) {
    throw std::runtime_error("openpty failed");
  }
  return {master, slave};
}

// A pseudo-terminal whose output is read on a thread as it is written.
class Terminal {
 public:
  explicit Terminal(int rows = 24) {
    std::tie(master_, slave_) = open_terminal(rows);
    ::fcntl(master_, F_SETFD, FD_CLOEXEC);
    ::fcntl(slave_, F_SETFD, FD_CLOEXEC);
    // The read ends in EIO once the slave side is closed.
    reader_ = std::thread([this] { out_ = drain(master_); });
  }
  ~Terminal() {
    close_slave();
    reader_.join();
    ::close(master_);
  }
  int fd() const { return slave_; }
  // What was written, once the writer is done.
  std::string output() {
    close_slave();
    reader_.join();
    reader_ = std::thread([] {});
    return out_;
  }

 private:
  void close_slave() {
    if (slave_ >= 0) {
      ::close(slave_);
      slave_ = -1;
    }
  }
  int master_ = -1;
  int slave_ = -1;
  std::thread reader_;
  std::string out_;
};

bool is_bar(const std::string& line) { return line.find("%|") != std::string::npos; }

// The screen after `out`, checked for what every bar on a terminal must leave: the whole
// screen scrolling again, no bar but the final one, which is the last line.
mp::test::Screen final_screen(const std::string& out, int rows = 24) {
  mp::test::Screen screen(rows, 80);
  screen.feed(out);
  EXPECT_TRUE(screen.unknown().empty()) << screen.unknown().front();
  EXPECT_TRUE(screen.scrolls_whole());
  return screen;
}

TEST_F(ProgressTest, ATerminalGetsOneBarRedrawnOnItsLastRow) {
  // The workers first: the terminal's reader thread must not be running at a fork.
  std::optional<mp::Pool> pool(std::in_place, 2);
  Terminal term;
  const auto start = std::chrono::steady_clock::now();
  {
    expect_squares(pool->map(slow_square, upto(200), 1,
                             mp::Progress{.label = "squares", .interval = 20ms, .fd = term.fd()}),
                   200);
    pool.reset();
  }
  const auto took = std::chrono::steady_clock::now() - start;
  const std::string out = term.output();

  // While drawn (everything before the bar let go of its row), the bar is on the last
  // row and the rows above it scroll.
  const std::size_t released = out.rfind("\x1b[r");
  ASSERT_NE(released, std::string::npos) << out;
  mp::test::Screen drawn(24, 80);
  drawn.feed(out.substr(0, released));
  EXPECT_EQ(drawn.region_bottom(), 23);
  EXPECT_EQ(drawn.row(24).rfind("squares ", 0), 0u) << drawn.row(24);
  EXPECT_TRUE(is_bar(drawn.row(24))) << drawn.row(24);

  const std::vector<std::string> lines = final_screen(out).lines();
  ASSERT_FALSE(lines.empty()) << out;
  const std::string& final_frame = lines.back();
  EXPECT_EQ(final_frame.rfind("squares 100%|", 0), 0u) << final_frame;
  EXPECT_NE(final_frame.find("| 200/200 ["), std::string::npos) << final_frame;
  EXPECT_LE(final_frame.size(), 79u) << "wider than the terminal: " << final_frame;
  EXPECT_EQ(std::count_if(lines.begin(), lines.end(), is_bar), 1) << out;

  // At most one frame per interval, and the last: each frame and the release end one
  // erased line.
  const std::size_t frames = count(out, "\x1b[K");
  EXPECT_GE(frames, 3u) << out;
  EXPECT_LE(frames, static_cast<std::size_t>(took / 20ms) + 3) << out;
}

// Written as a program does, with write() and no help from mp.
void write_lines(int fd, const std::string& prefix, int n, std::chrono::milliseconds gap) {
  for (int i = 0; i < n; ++i) {
    const std::string line = prefix + std::to_string(i) + "\n";
    ASSERT_EQ(::write(fd, line.data(), line.size()), static_cast<ssize_t>(line.size()));
    std::this_thread::sleep_for(gap);
  }
}

// Every line of `lines` that starts with `prefix` is whole, and they come in order.
void expect_whole_lines(const std::vector<std::string>& lines, const std::string& prefix, int n) {
  std::vector<std::string> seen;
  for (const std::string& line : lines) {
    if (line.find(prefix) != std::string::npos) {
      seen.push_back(line);
    }
  }
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(seen[static_cast<std::size_t>(i)], prefix + std::to_string(i));
  }
}

TEST_F(ProgressTest, OutputWrittenMeanwhileScrollsAboveTheBar) {
  Terminal term;
  {
    mp::ThreadPool pool(2);
    std::thread program([fd = term.fd()] { write_lines(fd, "program line ", 40, 4ms); });
    expect_squares(pool.map(slow_square, upto(200), 1,
                            mp::Progress{.label = "squares", .interval = 5ms, .fd = term.fd()}),
                   200);
    program.join();
  }
  const std::string out = term.output();
  const std::vector<std::string> lines = final_screen(out).lines();
  expect_whole_lines(lines, "program line ", 40);
  EXPECT_EQ(std::count_if(lines.begin(), lines.end(), is_bar), 1) << out;
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back().rfind("squares 100%|", 0), 0u) << lines.back();
}

int g_worker_terminal = -1;

int square_and_say_so(int x) {
  const std::string line = "task " + std::to_string(x) + " done\n";
  if (::write(g_worker_terminal, line.data(), line.size()) < 0) {
    return -1;
  }
  return slow_square(x);
}

TEST_F(ProgressTest, WorkerProcessesWriteAboveTheBarToo) {
  // Workers forked with the terminal open write to it as they would to their stderr.
  const auto [master, slave] = open_terminal();
  g_worker_terminal = slave;
  std::optional<mp::Pool> pool(std::in_place, 2);
  std::string out;
  std::thread reader([fd = master, &out] { out = drain(fd); });
  expect_squares(pool->map(square_and_say_so, upto(100), 1,
                           mp::Progress{.label = "squares", .interval = 5ms, .fd = slave}),
                 100);
  pool.reset();
  ::close(slave);
  reader.join();
  ::close(master);
  g_worker_terminal = -1;

  const std::vector<std::string> lines = final_screen(out).lines();
  std::size_t tasks = 0;
  for (const std::string& line : lines) {
    if (line.find("task ") != std::string::npos) {
      ++tasks;
      EXPECT_EQ(line.rfind("task ", 0), 0u) << line;
      EXPECT_EQ(line.substr(line.size() - 5), " done") << line;
    }
  }
  EXPECT_EQ(tasks, 100u) << out;
  EXPECT_EQ(std::count_if(lines.begin(), lines.end(), is_bar), 1) << out;
  EXPECT_TRUE(is_bar(lines.back())) << out;
}

TEST_F(ProgressTest, LinesPrintedAboveTheBarStayWhole) {
  for (const int rows : {24, 1}) {  // pinned, and on the text's line
    Terminal term(rows);
    std::atomic<int> printed{0};
    {
      mp::ThreadPool pool(2);
      const auto print_twice = [&printed](const mp::ProgressInfo& i) {
        if (!i.finished && printed < 2) {
          mp::print_above_progress("found " + std::to_string(printed++));
        }
      };
      expect_squares(
          pool.map(slow_square, upto(200), 1,
                   mp::Progress{.callback = print_twice, .interval = 20ms, .fd = term.fd()}),
          200);
    }
    const std::string out = term.output();
    ASSERT_EQ(printed.load(), 2);
    mp::test::Screen screen(rows, 80);
    screen.feed(out);
    EXPECT_TRUE(screen.scrolls_whole());
    std::vector<std::string> lines = screen.lines();
    if (rows == 1) {  // the screen shows only the final bar; whole lines show in the bytes
      EXPECT_NE(out.find("\r\x1b[Kfound 0\r\n"), std::string::npos) << out;
      EXPECT_NE(out.find("\r\x1b[Kfound 1\r\n"), std::string::npos) << out;
    } else {
      expect_whole_lines(lines, "found ", 2);
    }
    ASSERT_FALSE(lines.empty());
    EXPECT_TRUE(is_bar(lines.back())) << out;
  }
}

// A child drawing a bar on a fresh terminal, interrupted by SIGINT once the bar shows.
struct InterruptedChild {
  int status = 0;
  std::string out;
};

template <class Body>
InterruptedChild interrupt_while_drawing(Body body) {
  const auto [master, slave] = open_terminal();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(master);
    ::_exit(body(slave));
  }
  ::close(slave);
  InterruptedChild child;
  char buf[4096];
  bool sent = false;
  for (;;) {
    const ssize_t n = ::read(master, buf, sizeof buf);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    child.out.append(buf, static_cast<std::size_t>(n));
    if (!sent && child.out.find("%|") != std::string::npos) {
      ::kill(pid, SIGINT);
      sent = true;
    }
  }
  ::close(master);
  ::waitpid(pid, &child.status, 0);
  return child;
}

// Ctrl-C leaves the terminal as it was: scrolling whole, no bar left on it.
void expect_bar_let_go(const InterruptedChild& child) {
  ASSERT_NE(child.out.find("%|"), std::string::npos) << child.out;
  const std::vector<std::string> lines = final_screen(child.out).lines();
  EXPECT_EQ(std::count_if(lines.begin(), lines.end(), is_bar), 0) << child.out;
}

TEST_F(ProgressTest, CtrlCDuringAPoolMapLetsTheTerminalGo) {
  const InterruptedChild child = interrupt_while_drawing([](int fd) {
    try {
      mp::Pool pool(2);
      pool.map(slow_echo, upto(100000), 1, mp::Progress{.interval = 5ms, .fd = fd});
    } catch (const mp::Interrupted&) {
      return 42;
    }
    return 1;
  });
  ASSERT_TRUE(WIFEXITED(child.status)) << child.status;
  EXPECT_EQ(WEXITSTATUS(child.status), 42) << "mp::Interrupted, caught";
  expect_bar_let_go(child);
}

TEST_F(ProgressTest, CtrlCDuringAThreadPoolMapLetsTheTerminalGo) {
  // A thread pool's map is not interrupted: the process dies of SIGINT, as before, and
  // writes the terminal's reset on its way out.
  const InterruptedChild child = interrupt_while_drawing([](int fd) {
    mp::ThreadPool pool(2);
    pool.map(slow_echo, upto(100000), 1, mp::Progress{.interval = 5ms, .fd = fd});
    return 1;
  });
  ASSERT_TRUE(WIFSIGNALED(child.status)) << child.status;
  EXPECT_EQ(WTERMSIG(child.status), SIGINT);
  expect_bar_let_go(child);
}

TEST_F(ProgressTest, ParallelVerboseWritesToStderr) {
  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  const int saved = ::dup(2);
  ASSERT_GE(saved, 0);
  ::dup2(fds[1], 2);
  {
    mp::Parallel parallel({.n_jobs = 2, .backend = mp::Backend::threads, .verbose = 1});
    expect_squares(parallel(mp::delayed(slow_square).over(upto(20))), 20);
  }
  ::dup2(saved, 2);
  ::close(saved);
  ::close(fds[1]);
  const std::string out = drain(fds[0]);
  ::close(fds[0]);
  EXPECT_EQ(out.rfind("Parallel(n_jobs=2): 20/20 (100%) done in ", 0), 0u) << out;
  EXPECT_EQ(count(out, "\n"), 1u) << out;
}

TEST_F(ProgressTest, ACallbackThatThrowsLeavesTheCallAndThePoolWorks) {
  mp::Pool pool(2);
  const auto fail = [](const mp::ProgressInfo& i) {
    if (i.done > 0) {
      throw std::runtime_error("display broke");
    }
  };
  EXPECT_THROW(pool.map(slow_square, upto(200), 1,
                        mp::Progress{.show = false, .callback = fail, .interval = 1ms}),
               std::runtime_error);
  expect_squares(pool.map(slow_square, upto(20)), 20);
}

TEST(ParallelProgressOptions, NegativeVerboseIsRefused) {
  EXPECT_THROW(mp::Parallel({.n_jobs = 1, .verbose = -1}), std::invalid_argument);
}

}  // namespace
