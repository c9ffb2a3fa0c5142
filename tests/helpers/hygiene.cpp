#include "helpers/hygiene.hpp"

#include "process/launcher.hpp"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace mp::test {

int count_open_fds() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.') {
        ++n;
      }
    }
    ::closedir(d);
  }
  return n - 1;  // the directory stream's own fd
}

rlimit leave_spare_fds(int spare, const std::vector<int>& open) {
  int limit = 0;
  for (int free_below = 0;; ++limit) {
    if (!std::binary_search(open.begin(), open.end(), limit)) {
      if (free_below == spare) break;
      ++free_below;
    }
  }
  rlimit original{};
  if (::getrlimit(RLIMIT_NOFILE, &original) != 0) std::exit(10);
  rlimit lowered = original;
  lowered.rlim_cur = static_cast<rlim_t>(limit);
  if (::setrlimit(RLIMIT_NOFILE, &lowered) != 0) std::exit(10);
  return original;
}

std::vector<int> open_fds() {
  std::vector<int> out;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    const int own = ::dirfd(d);
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] != '.' && std::atoi(e->d_name) != own) {
        out.push_back(std::atoi(e->d_name));
      }
    }
    ::closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> mp_shm_entries() {
  std::vector<std::string> out;
  if (DIR* d = ::opendir("/dev/shm")) {
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name.rfind("mp-", 0) == 0) {
        out.push_back(name);
      }
    }
    ::closedir(d);
  }
  return out;
}

std::vector<int> child_pids() {
  std::vector<int> out;
  const std::string me = std::to_string(::getpid());
  std::ifstream f("/proc/self/task/" + me + "/children");
  int pid = 0;
  while (f >> pid) {
    out.push_back(pid);
  }
  return out;
}

namespace {
// The fields of /proc/PID/stat after the command name: state, ppid, ...
std::istringstream stat_fields(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(f, line);
  const auto name_end = line.rfind(')');
  return std::istringstream(name_end == std::string::npos ? std::string()
                                                          : line.substr(name_end + 2));
}
}  // namespace

int parent_pid_of(int pid) {
  std::istringstream rest = stat_fields(pid);
  char state = 0;
  int ppid = 0;
  rest >> state >> ppid;
  return ppid;
}

char process_state(int pid) {
  std::istringstream rest = stat_fields(pid);
  char state = 0;
  rest >> state;
  return state;
}

bool no_child_left() {
  mp::process::stop_fork_server();
  return child_pids().empty();
}

void user_sees(const std::string& text) { ::testing::Test::RecordProperty("user_sees", text); }

void HygieneTest::SetUp() { fds_before_ = count_open_fds(); }

void HygieneTest::TearDown() {
  // The fork server lives as long as the program; a test ends it to count what is left.
  mp::process::stop_fork_server();
  // A child that has been killed may take a moment to be reaped by its owner's destructor;
  // everything here ran synchronously, so nothing may be left at all.
  EXPECT_EQ(child_pids(), std::vector<int>{}) << "child processes left behind";
  EXPECT_EQ(count_open_fds(), fds_before_) << "file descriptors leaked";
  EXPECT_EQ(mp_shm_entries(), std::vector<std::string>{}) << "/dev/shm entries left";
}

namespace {

std::uint64_t inode_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_ino) : 0;
}

bool is_memory_file(const std::string& target) { return target.rfind("/memfd:mp", 0) == 0; }

}  // namespace

std::vector<std::uint64_t> memory_files_of_this_process() {
  std::vector<std::uint64_t> inodes;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    const std::string target = std::filesystem::read_symlink(entry.path(), ec).string();
    if (!ec && is_memory_file(target)) {
      inodes.push_back(inode_of(entry.path().string()));
    }
  }
  return inodes;
}

std::vector<std::string> processes_with_memory_files(const std::set<std::uint64_t>& inodes) {
  std::vector<std::string> holders;
  const std::string self = std::to_string(::getpid());
  for (const auto& proc : std::filesystem::directory_iterator("/proc")) {
    const std::string pid = proc.path().filename().string();
    if (pid == self || pid.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    std::error_code ec;
    for (const auto& fd : std::filesystem::directory_iterator(proc.path() / "fd", ec)) {
      const std::string target = std::filesystem::read_symlink(fd.path(), ec).string();
      if (!ec && is_memory_file(target) && inodes.count(inode_of(fd.path().string())) != 0) {
        holders.push_back(pid + " has " + target + " open");
      }
    }
    std::ifstream maps(proc.path() / "maps");
    std::string line;
    while (std::getline(maps, line)) {
      std::istringstream fields(line);
      std::string range, perms, offset, device;
      std::uint64_t inode = 0;
      fields >> range >> perms >> offset >> device >> inode;
      if (line.find("/memfd:mp") != std::string::npos && inodes.count(inode) != 0) {
        holders.push_back(pid + " maps " + line);
      }
    }
  }
  return holders;
}

}  // namespace mp::test
