// mp::SharedMemory: named blocks seen by other processes (forked, spawned, Python's
// multiprocessing.shared_memory), the errors Python raises as exceptions, and names
// removed when their creator exits normally.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mp/mp.hpp>
#include <numeric>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "helpers/hygiene.hpp"

namespace {

bool name_exists(const std::string& name) {
  return ::access(("/dev/shm/" + name).c_str(), F_OK) == 0;
}

std::string unique_name(const char* what) {
  // Not "mp-": the hygiene check of tests running beside this one looks for those.
  return "mpshm_test_" + std::string(what) + "-" + std::to_string(::getpid());
}

// Doubles every int of the block named `name`, in another process.
void double_ints(mp::SharedMemory shm) {
  for (int& x : shm.as<int>()) {
    x *= 2;
  }
}

// Creates a block and returns normally, without unlinking it.
void create_and_return(std::string name) { mp::SharedMemory::create(name, 4096); }

// What `python3 -c program` printed, or "" if it failed.
std::string python(const std::string& program) {
  const std::string command = "/usr/bin/python3 -c '" + program + "' 2>&1";
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) {
    return "";
  }
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p) != nullptr) {
    out += buf;
  }
  return ::pclose(p) == 0 ? out : "failed: " + out;
}

class NamedSharedMemoryTest : public mp::test::HygieneTest {};

// The first name a process creates starts its tracker, whose pipe the process then holds
// for its whole life (as it holds the fork server's): started before the tests count
// descriptors.
class StartTheTracker : public ::testing::Environment {
 public:
  void SetUp() override { mp::SharedMemory::create(64).unlink(); }
};
const auto* const kTracker = ::testing::AddGlobalTestEnvironment(new StartTheTracker);

TEST_F(NamedSharedMemoryTest, OtherProcessesSeeTheSameBytes) {
  auto shm = mp::SharedMemory::create(unique_name("ints"), 1000 * sizeof(int));
  auto ints = shm.as<int>();
  ASSERT_EQ(ints.size(), 1000u);
  EXPECT_EQ(std::accumulate(ints.begin(), ints.end(), 0), 0) << "a new block is zero-filled";
  std::iota(ints.begin(), ints.end(), 0);
  for (const char* method : {"fork", "spawn"}) {
    auto child = mp::get_context(method).process(double_ints, mp::SharedMemory::attach(shm.name()));
    child.start();
    child.join();
    ASSERT_EQ(child.exitcode(), 0) << method;
  }
  EXPECT_EQ(ints[999], 999 * 4);
  // A pool task gets it by name too.
  mp::Pool pool(1);
  pool.apply(double_ints, mp::SharedMemory::attach(shm.name()));
  EXPECT_EQ(ints[1], 8);
  shm.unlink();
  EXPECT_FALSE(name_exists(shm.name()));
  EXPECT_EQ(ints[2], 16) << "unlinking keeps the mapping";
}

TEST_F(NamedSharedMemoryTest, PythonReadsWhatMpWroteAndTheOtherWayRound) {
  if (::access("/usr/bin/python3", X_OK) != 0) {
    GTEST_SKIP() << "no /usr/bin/python3";
  }
  auto shm = mp::SharedMemory::create(unique_name("to-python"), 64);
  for (std::size_t i = 0; i < 64; ++i) {
    shm.bytes()[i] = static_cast<std::byte>(i * 3);
  }
  // Python's resource tracker would unlink a block it merely attached to (gh-82300):
  // the script unregisters it.
  const std::string read = python(
      "from multiprocessing import shared_memory, resource_tracker\n"
      "s = shared_memory.SharedMemory(name=\"" +
      shm.name() +
      "\")\n"
      "resource_tracker.unregister(s._name, \"shared_memory\")\n"
      "print(s.size, sum(s.buf[:64]), bytes(s.buf[:4]).hex())\n"
      "s.close()\n");
  int sum = 0;
  for (std::size_t i = 0; i < 64; ++i) {
    sum += static_cast<int>(i * 3 % 256);
  }
  EXPECT_EQ(read, "64 " + std::to_string(sum) + " 00030609\n");
  EXPECT_TRUE(name_exists(shm.name()));

  const std::string name = unique_name("from-python");
  const std::string wrote = python(
      "from multiprocessing import shared_memory, resource_tracker\n"
      "s = shared_memory.SharedMemory(name=\"" +
      name +
      "\", create=True, size=16)\n"
      "resource_tracker.unregister(s._name, \"shared_memory\")\n"
      "s.buf[:5] = b\"hello\"\n"
      "s.close()\n");
  EXPECT_EQ(wrote, "");
  auto from_python = mp::SharedMemory::attach(name, 5);
  EXPECT_GE(from_python.size(), 16u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(from_python.data()), 5), "hello");
  from_python.unlink();
  shm.unlink();
}

TEST_F(NamedSharedMemoryTest, MistakesAreClearErrors) {
  auto shm = mp::SharedMemory::create(unique_name("errors"), 128);
  try {
    mp::SharedMemory::create(shm.name(), 128);
    ADD_FAILURE() << "created twice";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::file_exists);
  }
  EXPECT_THROW(mp::SharedMemory::attach(shm.name(), 129), std::length_error);
  EXPECT_EQ(mp::SharedMemory::attach(shm.name(), 128).size(), 128u);
  EXPECT_THROW(mp::SharedMemory::create(unique_name("empty"), 0), std::invalid_argument);
  EXPECT_THROW(mp::SharedMemory::create("a/b", 8), std::invalid_argument);
  EXPECT_THROW(mp::SharedMemory::attach(""), std::invalid_argument);
  shm.unlink();
  try {
    mp::SharedMemory::attach(shm.name());
    ADD_FAILURE() << "attached to a name that is gone";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code(), std::errc::no_such_file_or_directory);
  }
  EXPECT_THROW(shm.unlink(), std::system_error);
}

TEST_F(NamedSharedMemoryTest, NamesGoWhenTheirCreatorExitsNormally) {
  const std::string by_exit = unique_name("exit");
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    mp::SharedMemory::create(by_exit, 4096);
    std::exit(name_exists(by_exit) ? 0 : 3);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_FALSE(name_exists(by_exit)) << "left behind by a process that exited";

  const std::string by_process = unique_name("process");
  mp::Process child(create_and_return, by_process);
  child.start();
  child.join();
  EXPECT_EQ(child.exitcode(), 0);
  EXPECT_FALSE(name_exists(by_process)) << "left behind by an mp::Process";

  // Created here: only this process removes it, not a child forked meanwhile.
  auto mine = mp::SharedMemory::create(unique_name("mine"), 64);
  mp::Process bystander([] {});
  bystander.start();
  bystander.join();
  EXPECT_TRUE(name_exists(mine.name())) << "a child removed its parent's name";
  mine.unlink();
}

TEST_F(NamedSharedMemoryTest, NamesOfACreatorKilledBySIGKILLAreRemovedByItsTracker) {
  const std::string kept = unique_name("killed-kept");
  const std::string dropped = unique_name("killed-dropped");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(ready[0]);
    mp::SharedMemory::create(kept, 4096);
    mp::SharedMemory::create(dropped, 4096).unlink();
    mp::SharedMemory::create(dropped, 4096);  // the same name again, tracked again
    ::write(ready[1], "k", 1);
    ::pause();
    ::_exit(0);
  }
  ::close(ready[1]);
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  EXPECT_TRUE(name_exists(kept));
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  for (int i = 0; i < 500 && (name_exists(kept) || name_exists(dropped)); ++i) {
    ::usleep(10'000);
  }
  EXPECT_FALSE(name_exists(kept)) << "left behind by a SIGKILLed creator";
  EXPECT_FALSE(name_exists(dropped));
  ::shm_unlink(("/" + kept).c_str());
  ::shm_unlink(("/" + dropped).c_str());
}

// The tracker is forked from the creator: it must not keep the creator's other shared
// memory (a 1 GiB array, say) alive by mapping it.
TEST_F(NamedSharedMemoryTest, TheTrackerHoldsNoneOfTheCreatorsMemory) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const std::vector<std::uint64_t> before = mp::test::memory_files_of_this_process();
    mp::RawArray<char> array(std::size_t{1} << 20);
    mp::Queue<int> queue;
    queue.put(1);
    std::set<std::uint64_t> ours;
    for (const std::uint64_t inode : mp::test::memory_files_of_this_process()) {
      if (std::find(before.begin(), before.end(), inode) == before.end()) ours.insert(inode);
    }
    const std::string name = unique_name("tracker-maps");
    mp::SharedMemory::create(name, 4096);  // starts this process's tracker
    const std::vector<std::string> holders = mp::test::processes_with_memory_files(ours);
    for (const std::string& h : holders) std::fprintf(stderr, "held: %s\n", h.c_str());
    ::_exit(ours.size() >= 2 && holders.empty() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "another process holds the creator's memory (stderr)";
}

TEST_F(NamedSharedMemoryTest, AFreshNameEachTime) {
  auto a = mp::SharedMemory::create(256);
  auto b = mp::SharedMemory::create(256);
  EXPECT_NE(a.name(), b.name());
  EXPECT_EQ(a.name().rfind("mpshm_", 0), 0u);
  EXPECT_EQ(mp::SharedMemory::attach(a.name()).size(), 256u);
  a.unlink();
  b.unlink();
}

}  // namespace
