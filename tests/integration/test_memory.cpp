// mp::Memory: results computed once and found again, in this process and in others (a
// new process, pool workers, Parallel tasks, several at once); keys that change with the
// arguments, the version and the result type; clearing; least-recently-used eviction;
// entries that are corrupt or do not decode; directories and files that are not a cache;
// a disk that fills up.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mp/mp.hpp>
#include <string>
#include <thread>
#include <vector>

#include "helpers/hygiene.hpp"

namespace {

using namespace std::chrono_literals;

std::atomic<int> g_calls{0};

long long slow_cube(int x) {
  ++g_calls;
  return static_cast<long long>(x) * x * x;
}

std::string text_of(int x) {
  ++g_calls;
  return std::string(static_cast<std::size_t>(x), 'a');
}

std::vector<char> kilobytes(int k) {
  ++g_calls;
  return std::vector<char>(static_cast<std::size_t>(k) * 1024, 'k');
}

// A fresh directory for one test, removed after it.
class MemoryTest : public mp::test::HygieneTest {
 protected:
  void SetUp() override {
    HygieneTest::SetUp();
    char tmpl[] = "/tmp/mp-memory-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    g_calls = 0;
  }
  void TearDown() override {
    std::filesystem::remove_all(dir_);
    HygieneTest::TearDown();
  }
  // Runs SQL on the cache's database, as another program would.
  void sql(const std::string& statement) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ + "/cache.db").c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    const int rc = sqlite3_exec(db, statement.c_str(), nullptr, nullptr, &error);
    EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
  }
  std::string dir_;
};

TEST_F(MemoryTest, TheSecondCallReturnsTheStoredResult) {
  mp::Memory memory(dir_);
  auto cube = memory.cache(slow_cube);
  EXPECT_FALSE(cube.check_call_in_cache(7));
  EXPECT_EQ(cube(7), 343);
  EXPECT_EQ(g_calls, 1);
  EXPECT_TRUE(cube.check_call_in_cache(7));
  EXPECT_EQ(cube(7), 343);
  EXPECT_EQ(g_calls, 1) << "a hit must not compute";
  EXPECT_EQ(cube(8), 512);  // other arguments, another entry
  EXPECT_EQ(g_calls, 2);
  EXPECT_EQ(memory.entries(), 2u);
  EXPECT_GT(memory.size_bytes(), 0u);
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/cache.db"));
}

TEST_F(MemoryTest, ANewProcessFindsWhatAnotherStored) {
  {
    mp::Process child(
        [](std::string dir) {
          mp::Memory memory(dir);
          auto cube = memory.cache(slow_cube);
          std::exit(cube(11) == 1331 && g_calls == 1 ? 0 : 3);
        },
        dir_);
    child.start();
    child.join();
    ASSERT_EQ(child.exitcode(), 0);
  }
  mp::Memory memory(dir_);
  auto cube = memory.cache(slow_cube);
  EXPECT_TRUE(cube.check_call_in_cache(11));
  EXPECT_EQ(cube(11), 1331);
  EXPECT_EQ(g_calls, 0) << "computed again although another process stored it";
}

using CachedCube = decltype(mp::Memory(std::string()).cache(slow_cube));

void cube_eleven_or_fail(CachedCube cube) { std::exit(cube(11) == 1331 ? 0 : 3); }

TEST_F(MemoryTest, ACachedFunctionHandedToAChildWorksOnBothSides) {
  mp::Memory memory(dir_);
  auto cube = memory.cache(slow_cube);
  EXPECT_EQ(cube(2), 8);  // the parent's connection is open and used
  for (const char* method : {"fork", "spawn"}) {
    auto child = mp::get_context(method).process(cube_eleven_or_fail, cube);
    child.start();
    child.join();
    ASSERT_EQ(child.exitcode(), 0) << method;
  }
  EXPECT_EQ(cube(11), 1331);
  EXPECT_EQ(cube(2), 8);
  EXPECT_EQ(g_calls, 1) << "the children's entry was not found, or the parent's was lost";
  EXPECT_EQ(memory.entries(), 2u);
}

TEST_F(MemoryTest, VersionNameAndResultTypeArePartOfTheKey) {
  auto v1 = mp::Memory({.location = dir_, .version = "1"}).cache(slow_cube);
  auto v2 = mp::Memory({.location = dir_, .version = "2"}).cache(slow_cube);
  EXPECT_EQ(v1(3), 27);
  EXPECT_EQ(v2(3), 27);
  EXPECT_EQ(g_calls, 2) << "a new version must recompute";
  // Two functions given one name, with other result types: never each other's bytes.
  mp::Memory memory(dir_);
  auto as_text = memory.cache(text_of, "shared-name");
  auto as_cube = memory.cache(slow_cube, "shared-name");
  EXPECT_EQ(as_text(4), "aaaa");
  EXPECT_EQ(as_cube(4), 64);
  EXPECT_EQ(g_calls, 4);
  EXPECT_NE(memory.cache(slow_cube).identity(), memory.cache(text_of).identity());
}

TEST_F(MemoryTest, AShelvedResultIsReadWhenAskedFor) {
  mp::Memory memory(dir_);
  auto text = memory.cache(text_of);
  const auto shelved = text.call_and_shelve(6);
  EXPECT_EQ(g_calls, 1);
  EXPECT_TRUE(text.check_call_in_cache(6));
  EXPECT_EQ(shelved.get(), "aaaaaa");
  EXPECT_EQ(text.call_and_shelve(6).get(), "aaaaaa");
  EXPECT_EQ(g_calls, 1) << "shelving a stored call computed it again";
  shelved.clear();
  EXPECT_FALSE(text.check_call_in_cache(6));
  EXPECT_THROW(shelved.get(), mp::CacheError);
  // A result the cache cannot take is held by the handle itself.
  auto limited = mp::Memory({.location = dir_, .bytes_limit = 16}).cache(text_of);
  EXPECT_EQ(limited.call_and_shelve(100).get(), std::string(100, 'a'));
}

TEST_F(MemoryTest, TheBuildIdNamesTheFunctionUnlessTurnedOff) {
  const std::string rebuilt = mp::Memory(dir_).cache(slow_cube).identity();
  const std::string kept =
      mp::Memory({.location = dir_, .invalidate_on_rebuild = false}).cache(slow_cube).identity();
  const std::string named = mp::Memory({.location = dir_, .invalidate_on_rebuild = false})
                                .cache(slow_cube, "cube v1")
                                .identity();
  EXPECT_EQ(named, "cube v1");
  EXPECT_EQ(kept.find('@'), std::string::npos) << kept;
  ASSERT_NE(rebuilt.find(" @"), std::string::npos) << rebuilt;
  const std::string id = rebuilt.substr(rebuilt.find(" @") + 2);
  // The GNU build id of this test program: 20 bytes of SHA-1, in hex.
  EXPECT_EQ(id.size(), 40u) << rebuilt;
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << rebuilt;
  EXPECT_EQ(rebuilt.rfind(kept, 0), 0u) << "the same function: " << kept << " / " << rebuilt;
}

TEST_F(MemoryTest, ClearDropsEverythingOrOneFunction) {
  mp::Memory memory(dir_);
  auto cube = memory.cache(slow_cube);
  auto text = memory.cache(text_of);
  cube(1);
  cube(2);
  text(3);
  EXPECT_EQ(memory.entries(), 3u);
  cube.clear();
  EXPECT_EQ(memory.entries(), 1u);
  EXPECT_TRUE(text.check_call_in_cache(3));
  memory.clear();
  EXPECT_EQ(memory.entries(), 0u);
  EXPECT_FALSE(text.check_call_in_cache(3));
}

TEST_F(MemoryTest, TheLeastRecentlyUsedGoFirstBeyondTheLimit) {
  // Three 10 KiB results fit; a fourth pushes out the one used least recently.
  mp::Memory memory({.location = dir_, .bytes_limit = 35 * 1024});
  auto kb = memory.cache(kilobytes);
  kb(10);
  kb(11);
  std::this_thread::sleep_for(5ms);  // stored a few milliseconds apart: no tie in age
  kb(12);
  EXPECT_EQ(memory.entries(), 3u);
  std::this_thread::sleep_for(1100ms);  // recency is kept to the second
  kb(10);                               // used again: now the most recent
  EXPECT_EQ(g_calls, 3);
  kb(13);
  EXPECT_LE(memory.size_bytes(), 35u * 1024);
  EXPECT_TRUE(kb.check_call_in_cache(10));
  EXPECT_FALSE(kb.check_call_in_cache(11)) << "the least recently used entry stayed";
  EXPECT_TRUE(kb.check_call_in_cache(13));
  // A result larger than the whole limit is returned, not stored.
  EXPECT_EQ(kb(64).size(), 64u * 1024);
  EXPECT_FALSE(kb.check_call_in_cache(64));
}

TEST_F(MemoryTest, ACorruptEntryIsRecomputedNeverReturned) {
  mp::Memory memory(dir_);
  auto text = memory.cache(text_of);
  EXPECT_EQ(text(5), "aaaaa");
  // Bytes changed behind the cache's back: the checksum no longer holds.
  sql("UPDATE mp_cache_entries SET value = X'0500000000000000626262626262'");
  EXPECT_EQ(text(5), "aaaaa");
  EXPECT_EQ(g_calls, 2);
  // Bytes whose checksum holds but that do not decode as the result (another build's type).
  const unsigned char garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
  const auto checksum = static_cast<long long>(XXH3_64bits(garbage, sizeof garbage));
  sql("UPDATE mp_cache_entries SET value = X'ffffffffffffff7f', checksum = " +
      std::to_string(checksum));
  EXPECT_EQ(text(5), "aaaaa");
  EXPECT_EQ(g_calls, 3);
  EXPECT_EQ(text(5), "aaaaa");  // stored right this time
  EXPECT_EQ(g_calls, 3);
}

// The files in the cache's results/ folder.
std::vector<std::filesystem::path> result_files(const std::string& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& f : std::filesystem::directory_iterator(dir + "/results")) {
    files.push_back(f.path());
  }
  return files;
}

TEST_F(MemoryTest, LargeResultsLiveInFilesReadBackByMapping) {
  mp::Memory memory(dir_);  // results of 1 MiB and more in files
  auto kb = memory.cache(kilobytes);
  EXPECT_EQ(kb(4).size(), 4u * 1024);  // in the database
  EXPECT_TRUE(result_files(dir_).empty());
  EXPECT_EQ(kb(2048).size(), 2048u * 1024);
  auto files = result_files(dir_);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(std::filesystem::file_size(files[0]), 2048u * 1024 + 8);  // length + bytes
  const std::vector<char> again = kb(2048);
  EXPECT_EQ(g_calls, 2);
  EXPECT_EQ(again, std::vector<char>(2048u * 1024, 'k'));

  // A byte changed in the file: recomputed, never returned.
  {
    std::fstream f(files[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1000);
    f.put('X');
  }
  EXPECT_EQ(kb(2048), std::vector<char>(2048u * 1024, 'k'));
  EXPECT_EQ(g_calls, 3);
  // The file removed: recomputed.
  std::filesystem::remove(result_files(dir_).at(0));
  EXPECT_EQ(kb(2048).size(), 2048u * 1024);
  EXPECT_EQ(g_calls, 4);
  EXPECT_EQ(result_files(dir_).size(), 1u);
  kb.clear();
  EXPECT_TRUE(result_files(dir_).empty()) << "clearing the function left its file";
  kb(2048);
  memory.clear();
  EXPECT_TRUE(result_files(dir_).empty());
  // Evicted: its file goes with it.
  auto limited = mp::Memory({.location = dir_, .bytes_limit = 3u << 19}).cache(kilobytes);
  limited(1024);
  limited(1025);
  EXPECT_FALSE(limited.check_call_in_cache(1024));
  EXPECT_EQ(result_files(dir_).size(), 1u);
  // Stored back to back, often within one millisecond: the older always goes.
  for (int n = 1026; n < 1046; ++n) {
    limited(n);
    EXPECT_TRUE(limited.check_call_in_cache(n)) << n;
    EXPECT_FALSE(limited.check_call_in_cache(n - 1)) << n;
  }
}

TEST_F(MemoryTest, PoolWorkersAndParallelTasksFillOneCacheAtOnce) {
  mp::Memory memory(dir_);
  auto cube = memory.cache(slow_cube);
  std::vector<int> xs(300);
  for (int i = 0; i < 300; ++i) {
    xs[static_cast<std::size_t>(i)] = i;
  }
  {
    // Two pools of two workers each write the same keys at the same time.
    mp::Pool a(2);
    mp::Pool b(2);
    auto ra = a.map_async(cube, xs, 1);
    auto rb = b.map_async(cube, xs, 1);
    const auto& ya = ra.get();
    const auto& yb = rb.get();
    for (int i = 0; i < 300; ++i) {
      ASSERT_EQ(ya[static_cast<std::size_t>(i)], static_cast<long long>(i) * i * i);
      ASSERT_EQ(yb[static_cast<std::size_t>(i)], static_cast<long long>(i) * i * i);
    }
  }
  EXPECT_EQ(memory.entries(), 300u);
  for (int x : xs) {
    ASSERT_TRUE(cube.check_call_in_cache(x)) << x;
  }
  EXPECT_EQ(g_calls, 0) << "the parent computed nothing itself";
  // Parallel over the cached function: every call a hit, still right.
  const auto ys = mp::Parallel(2)(mp::delayed(cube).over(xs));
  for (int i = 0; i < 300; ++i) {
    ASSERT_EQ(ys[static_cast<std::size_t>(i)], static_cast<long long>(i) * i * i);
  }
  EXPECT_EQ(memory.entries(), 300u);
}

TEST_F(MemoryTest, AFileThatIsNotACacheIsRefused) {
  { std::ofstream(dir_ + "/cache.db") << "these are the user's notes, not a database\n"; }
  EXPECT_THROW(mp::Memory{dir_}, mp::CacheError);
  std::filesystem::remove(dir_ + "/cache.db");
  sql("CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER)");
  try {
    mp::Memory memory(dir_);
    ADD_FAILURE() << "another program's database was taken as a cache";
  } catch (const mp::CacheError& e) {
    EXPECT_NE(std::string(e.what()).find("not a cache"), std::string::npos) << e.what();
  }
}

TEST_F(MemoryTest, ACacheOfAnotherFormatIsEmptiedAndUsed) {
  sql("CREATE TABLE mp_cache_meta (name TEXT PRIMARY KEY, value INTEGER);"
      "INSERT INTO mp_cache_meta VALUES ('format', 1);"
      "CREATE TABLE mp_cache_entries (key BLOB PRIMARY KEY, function TEXT, value BLOB);"
      "INSERT INTO mp_cache_entries VALUES (X'00', 'old', X'01')");
  mp::Memory memory(dir_);
  EXPECT_EQ(memory.entries(), 0u);
  auto cube = memory.cache(slow_cube);
  EXPECT_EQ(cube(5), 125);
  EXPECT_EQ(cube(5), 125);
  EXPECT_EQ(g_calls, 1);
}

TEST_F(MemoryTest, ADirectoryThatCannotBeCreatedIsAClearError) {
  EXPECT_THROW(mp::Memory{"/proc/mp-memory-cache"}, mp::CacheError);
  std::ofstream(dir_ + "/a-file") << "x";
  try {
    mp::Memory memory(dir_ + "/a-file/cache");
    ADD_FAILURE() << "a directory under a file";
  } catch (const mp::CacheError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot create its directory"), std::string::npos)
        << e.what();
  }
}

TEST_F(MemoryTest, AFullDiskLeavesResultsUncachedNotWrong) {
  mp::Memory memory(dir_);
  memory.cache(kilobytes)(1);  // the database and its log exist
  // A child whose files may not grow: writes fail as on a full disk.
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{1 << 20, 1 << 20};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    // 2 MiB results cannot be stored, in a file or in the database.
    auto in_file = mp::Memory(dir_).cache(kilobytes);
    auto in_database = mp::Memory({.location = dir_, .file_threshold = 1u << 30}).cache(kilobytes);
    bool ok = true;
    for (int i = 0; i < 3; ++i) {
      ok = ok && in_file(2048).size() == 2048u * 1024 && in_database(2049).size() == 2049u * 1024;
    }
    ::_exit(ok && !in_file.check_call_in_cache(2048) && !in_database.check_call_in_cache(2049) ? 0
                                                                                               : 3);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "the child died: " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  // The cache is still usable.
  EXPECT_TRUE(memory.cache(kilobytes).check_call_in_cache(1));
  EXPECT_EQ(memory.cache(kilobytes)(3).size(), 3u * 1024);
}

}  // namespace
