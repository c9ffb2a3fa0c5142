// The spawn launcher: posix_spawn of the program itself, with the child's role in its
// environment. glibc's posix_spawn runs nothing between its fork and the exec but the
// file actions, so it is safe from a caller with threads, and cheap (vfork-like).
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <string>
#include <vector>

#include "process/child.hpp"
#include "process/child_boot.hpp"
#include "process/launcher.hpp"

extern char** environ;

namespace mp::process {
namespace {

std::mutex g_args_mutex;
std::vector<std::string> g_args;  // from mp::init, else read from /proc/self/cmdline

std::vector<std::string> program_arguments() {
  std::lock_guard lock(g_args_mutex);
  if (g_args.empty()) {
    std::ifstream f("/proc/self/cmdline", std::ios::binary);
    const std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::size_t start = 0;
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (all[i] == '\0') {
        g_args.push_back(all.substr(start, i - start));
        start = i + 1;
      }
    }
    if (g_args.empty()) {
      g_args.emplace_back("mp-child");
    }
  }
  return g_args;
}

class FileActions {
 public:
  FileActions() { ::posix_spawn_file_actions_init(&fa_); }
  ~FileActions() { ::posix_spawn_file_actions_destroy(&fa_); }
  FileActions(const FileActions&) = delete;
  FileActions& operator=(const FileActions&) = delete;
  // dup2 of an fd onto itself clears its close-on-exec flag in the child (glibc >= 2.29).
  void keep(int fd) {
    if (const int err = ::posix_spawn_file_actions_adddup2(&fa_, fd, fd); err != 0) {
      sys::throw_errno("posix_spawn_file_actions_adddup2", err);
    }
  }
  posix_spawn_file_actions_t* get() { return &fa_; }

 private:
  posix_spawn_file_actions_t fa_;
};

class SpawnAttributes {
 public:
  SpawnAttributes() {
    ::posix_spawnattr_init(&attr_);
    // The child starts with no signal blocked and the default action for the signals mp
    // may be watching in the caller (an interrupted wait blocks or catches them).
    sigset_t none;
    sigset_t defaults;
    ::sigemptyset(&none);
    ::sigemptyset(&defaults);
    ::sigaddset(&defaults, SIGINT);
    ::sigaddset(&defaults, SIGTERM);
    ::sigaddset(&defaults, SIGCHLD);
    ::posix_spawnattr_setsigmask(&attr_, &none);
    ::posix_spawnattr_setsigdefault(&attr_, &defaults);
    ::posix_spawnattr_setflags(&attr_, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  }
  ~SpawnAttributes() { ::posix_spawnattr_destroy(&attr_); }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;
  posix_spawnattr_t* get() { return &attr_; }

 private:
  posix_spawnattr_t attr_;
};

class SpawnLauncher final : public Launcher {
 public:
  Launched launch(const LaunchSpec& spec) override {
    const sys::UniqueFd blob = make_blob_fd(spec.blob);
    FileActions actions;
    for (const int fd : spec.fds) {
      actions.keep(fd);
    }
    actions.keep(blob.get());
    SpawnAttributes attributes;

    const std::vector<std::string> args = program_arguments();
    std::vector<char*> argv;
    for (const std::string& a : args) {
      argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    const std::string role = std::string(kChildEnv) + "=" + spec.role + ":" +
                             std::to_string(blob.get()) + ":" + std::to_string(::getpid());
    std::vector<char*> envp;
    const std::string prefix = std::string(kChildEnv) + "=";
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      if (std::strncmp(*e, prefix.c_str(), prefix.size()) != 0) {
        envp.push_back(*e);
      }
    }
    envp.push_back(const_cast<char*>(role.c_str()));
    envp.push_back(nullptr);

    pid_t pid = 0;
    const int err = ::posix_spawn(&pid, "/proc/self/exe", actions.get(), attributes.get(),
                                  argv.data(), envp.data());
    if (err != 0) {
      sys::throw_errno("posix_spawn", err);
    }
    Launched out;
    out.pid = pid;
    // Our own child, not reaped yet: its pid cannot have been reused.
    out.pidfd = pidfd_or_kill(pid);
    return out;
  }

  int reap(pid_t pid) override {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
      if (errno != EINTR) {
        return kStatusUnknown;  // not ours any more: reaped elsewhere
      }
    }
    return status;
  }
};

}  // namespace

void set_program_arguments(int argc, char** argv) {
  std::lock_guard lock(g_args_mutex);
  g_args.assign(argv, argv + argc);
}

Launcher& spawn_launcher() {
  // Never destroyed: a Pool in a global still reaps its workers through it at exit.
  static SpawnLauncher& launcher = *new SpawnLauncher;
  return launcher;
}

}  // namespace mp::process
