// A fixture that proves a test cleaned up after itself: no child process left (running or
// zombie), no file descriptor leaked, no mp entry in /dev/shm.
#pragma once

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace mp::test {

int count_open_fds();
// The numbers of this process's open file descriptors, ascending.
std::vector<int> open_fds();
std::vector<std::string> mp_shm_entries();
// Lowers the soft RLIMIT_NOFILE to the number below which exactly `spare` fd numbers are
// free (`open`, from open_fds(), may have holes) and returns the limit it replaced; for a
// probe process, which exits with status 10 if it cannot.
rlimit leave_spare_fds(int spare, const std::vector<int>& open);
// Pids of this process's children, zombies included (from /proc).
std::vector<int> child_pids();
// The parent of process `pid` (from /proc), 0 if it is gone.
int parent_pid_of(int pid);
// The state letter of process `pid` (from /proc: 'R', 'S', 'Z'...), 0 if it is gone.
char process_state(int pid);
// True if this process has no child left once the fork server (which lives as long as
// the program) is stopped.
bool no_child_left();

// The inodes of the memory files of mp's shared objects (memfd "mp-…") this process holds.
std::vector<std::uint64_t> memory_files_of_this_process();
// What processes (other than this one) hold, open or mapped, a memory file of `inodes`:
// one line each, for a failure message.
std::vector<std::string> processes_with_memory_files(const std::set<std::uint64_t>& inodes);

// Records what a user sees in this test's scenario (a test property, in the JSON report),
// for the table of fault scenarios in README.md (scripts/fault_table.py).
void user_sees(const std::string& text);

class HygieneTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

 private:
  int fds_before_ = 0;
};

}  // namespace mp::test
