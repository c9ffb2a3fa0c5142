// The fork server (Python's forkserver.py): a single-threaded process, started by spawn
// the first time it is needed, that forks children on request. A caller with threads
// can then have workers started without ever forking itself, and starting one does not
// cost a copy of the caller's page tables.
//
//   caller (any thread, under a mutex)          fork server (one thread, epoll)
//   ────────────────────────────────────        ──────────────────────────────────────
//   launch: LaunchRequest + fds (SCM_RIGHTS) ─► fork ─► child: fds to their numbers,
//                                                        read blob, play the role
//           ◄── Started{pid} + pidfd (SCM_RIGHTS)       pidfd of the child into epoll
//   reap:   ◄── Exited{pid, wait status} ─────────────  child's pidfd readable: waitpid
//
// The server owns its children and reaps them; the caller watches each one through the
// pidfd the server sent (taken before the child could exit, so never a reused pid) and
// gets its exit status relayed. Liveness: the server sees EOF on its socket when the
// caller is gone (exit, crash or SIGKILL: the kernel closes the socket), kills its
// children and exits; its children die with it (parent-death signal).
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>

#include "process/child.hpp"
#include "process/child_boot.hpp"
#include "process/fork_server_protocol.hpp"
#include "process/launcher.hpp"

namespace mp::process {

bool is_well_formed(const LaunchRequest& req, std::size_t bytes, std::size_t fds) noexcept {
  if (bytes != sizeof req || req.kind != kLaunch || req.nfds == 0 || req.nfds > kMaxFds ||
      fds != req.nfds) {
    return false;
  }
  for (std::uint32_t i = 0; i + 1 < req.nfds; ++i) {
    if (req.targets[i] < 0) {
      return false;
    }
  }
  for (const char c : req.role) {
    if (c == '\0') {
      return true;
    }
  }
  return false;
}

namespace {

constexpr int kReplyTimeoutMs = 10'000;

// sendmsg of `bytes` with `fds` attached.
bool send_with_fds(int sock, const void* bytes, std::size_t n, const int* fds, std::size_t nfds) {
  iovec iov{const_cast<void*>(bytes), n};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * (kMaxFds + 1))] = {};
  if (nfds > 0) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    std::memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  for (;;) {
    const ssize_t r = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (r >= 0) {
      return true;
    }
    if (errno != EINTR) {
      return false;
    }
  }
}

// recvmsg of one message into `bytes`; received fds (close-on-exec) go to `fds`.
// Returns the message size, 0 at EOF, -1 on error.
ssize_t recv_with_fds(int sock, void* bytes, std::size_t n, std::vector<sys::UniqueFd>& fds) {
  iovec iov{bytes, n};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * (kMaxFds + 1))];
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t r = 0;
  do {
    r = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (r < 0 && errno == EINTR);
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); r >= 0 && c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int fd = -1;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        fds.emplace_back(fd);
      }
    }
  }
  return r;
}

// ---------------------------------------------------------------------------------------
// Server side

class ForkServer {
 public:
  explicit ForkServer(int sock) : sock_(sock), epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (!epoll_) {
      sys::throw_errno("epoll_create1");
    }
    watch(sock_.get(), 0);
  }

  [[noreturn]] void run() {
    for (;;) {
      epoll_event evs[16];
      const int n = ::epoll_wait(epoll_.get(), evs, 16, -1);
      if (n < 0 && errno != EINTR) {
        shut_down(1);
      }
      for (int i = 0; i < n; ++i) {
        const auto pid = static_cast<pid_t>(evs[i].data.u64);
        if (pid == 0) {
          serve_request();
        } else {
          report_exit(pid);
        }
      }
    }
  }

 private:
  void watch(int fd, pid_t key) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = static_cast<std::uint64_t>(key);
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
      sys::throw_errno("epoll_ctl");
    }
  }

  void serve_request() {
    LaunchRequest req;
    std::vector<sys::UniqueFd> fds;
    const ssize_t r = recv_with_fds(sock_.get(), &req, sizeof req, fds);
    if (r == 0 || (r < 0 && errno != EAGAIN)) {
      shut_down(0);  // the caller is gone
    }
    if (!is_well_formed(req, static_cast<std::size_t>(r), fds.size())) {
      Reply bad{kStarted, 0, EPROTO};
      send_with_fds(sock_.get(), &bad, sizeof bad, nullptr, 0);
      return;
    }
    std::fflush(nullptr);
    const pid_t server = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) {
      become_child(req, fds, server);
    }
    Reply reply{kStarted, pid, 0};
    if (pid < 0) {
      reply.value = errno;
      send_with_fds(sock_.get(), &reply, sizeof reply, nullptr, 0);
      return;
    }
    sys::UniqueFd pidfd = sys::open_pidfd(pid);
    const int fd = pidfd.get();
    send_with_fds(sock_.get(), &reply, sizeof reply, &fd, 1);
    watch(fd, pid);
    children_.emplace(pid, Child{std::move(pidfd), req.die_with_caller != 0});
  }

  [[noreturn]] void become_child(const LaunchRequest& req, std::vector<sys::UniqueFd>& fds,
                                 pid_t server) {
    // Nothing of the server's is the child's: its socket, epoll and children's pidfds.
    ::close(epoll_.release());
    ::close(sock_.release());
    for (auto& [pid, child] : children_) {
      ::close(child.pidfd.release());
    }
    ::signal(SIGINT, SIG_DFL);
    if (req.die_with_caller != 0) {
      die_with_parent(server);
    }
    // Put each fd at the number it has in the caller: first out of the way of every
    // target, then onto its target.
    const std::size_t n = req.nfds - 1;  // the last one is the blob
    int above = 3;
    for (std::size_t i = 0; i < n; ++i) {
      above = std::max(above, req.targets[i] + 1);
    }
    std::vector<int> moved(req.nfds);
    for (std::size_t i = 0; i < req.nfds; ++i) {
      moved[i] = ::fcntl(fds[i].get(), F_DUPFD_CLOEXEC, above);
      fds[i].reset();
      if (moved[i] < 0) {
        std::perror("mp: fork server child: fcntl");
        exit_child(127);
      }
    }
    for (std::size_t i = 0; i < n; ++i) {
      if (::dup3(moved[i], req.targets[i], O_CLOEXEC) < 0) {
        std::perror("mp: fork server child: dup3");
        exit_child(127);
      }
      ::close(moved[i]);
    }
    ChildBoot boot;
    boot.parent = server;
    try {
      boot.blob = read_blob_fd(moved[n]);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "mp: fork server child: %s\n", e.what());
      exit_child(127);
    }
    ::close(moved[n]);
    run_child_role(req.role, boot);
  }

  void report_exit(pid_t pid) {
    int status = 0;
    pid_t r = 0;
    do {
      r = ::waitpid(pid, &status, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == 0) {
      return;  // readable before the status is ready: it comes with the next event
    }
    const auto it = children_.find(pid);
    if (it != children_.end()) {
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->second.pidfd.get(), nullptr);
      children_.erase(it);
    }
    const Reply reply{kExited, pid, r == pid ? status : kStatusUnknown};
    send_with_fds(sock_.get(), &reply, sizeof reply, nullptr, 0);
  }

  // The caller is gone: its workers and daemons go too; other children live on.
  [[noreturn]] void shut_down(int code) {
    for (auto& [pid, child] : children_) {
      if (child.die_with_caller) {
        sys::pidfd_signal(child.pidfd.get(), SIGKILL);
      }
    }
    for (auto& [pid, child] : children_) {
      if (child.die_with_caller) {
        while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
      }
    }
    exit_child(code);
  }

  struct Child {
    sys::UniqueFd pidfd;
    bool die_with_caller = true;
  };
  sys::UniqueFd sock_;
  sys::UniqueFd epoll_;
  std::map<pid_t, Child> children_;
};

// The fork server's role: its blob is the number of its socket.
void run_fork_server(const ChildBoot& boot) {
  int sock = -1;
  if (boot.blob.size() != sizeof sock) {
    throw std::runtime_error("fork server: bad start-up data");
  }
  std::memcpy(&sock, boot.blob.data(), sizeof sock);
  ::fcntl(sock, F_SETFD, FD_CLOEXEC);
  // Ctrl-C reaches the whole process group; the caller decides what it means.
  ::signal(SIGINT, SIG_IGN);
  ForkServer(sock).run();
}

const bool g_registered = register_child_role("forkserver", &run_fork_server);

// ---------------------------------------------------------------------------------------
// Client side

class ForkServerClient final : public Launcher {
 public:
  ForkServerClient() = default;

  Launched launch(const LaunchSpec& spec) override {
    if (spec.fds.size() + 1 > kMaxFds || spec.role.size() >= sizeof(LaunchRequest{}.role)) {
      throw std::invalid_argument(
          "mp: fork server: too many descriptors to hand over (" + std::to_string(spec.fds.size()) +
          "; a Process target or Pool initializer may hold at most " + std::to_string(kMaxFds - 8) +
          " shared objects) or too long a role name");
    }
    const sys::UniqueFd blob = make_blob_fd(spec.blob);
    LaunchRequest req;
    req.nfds = static_cast<std::uint32_t>(spec.fds.size() + 1);
    req.die_with_caller = spec.die_with_caller ? 1 : 0;
    std::vector<int> fds = spec.fds;
    for (std::size_t i = 0; i < spec.fds.size(); ++i) {
      req.targets[i] = spec.fds[i];
    }
    fds.push_back(blob.get());
    std::memcpy(req.role, spec.role.data(), spec.role.size());
    std::lock_guard lock(mutex_);
    // A server that died since the last request (killed, say) is found dead here: the
    // request is sent once more, to a new server.
    for (int attempt = 0;; ++attempt) {
      try {
        return request(req, fds);
      } catch (const std::system_error&) {
        if (sock_ || attempt > 0) {
          throw;  // the server answered: a real failure to fork
        }
      }
    }
  }

  int reap(pid_t pid) override {
    std::lock_guard lock(mutex_);
    return reap_locked(pid);
  }

  pid_t pid() {
    std::lock_guard lock(mutex_);
    return owner_ == ::getpid() ? server_ : 0;
  }

  void stop() {
    std::lock_guard lock(mutex_);
    if (owner_ != ::getpid()) {
      return;
    }
    sock_.reset();  // EOF: the server kills its children and exits
    if (server_ > 0) {
      while (::waitpid(server_, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    server_ = 0;
    exited_.clear();
    ++generation_;
  }

  // In a forked child: the connection and the server belong to the parent.
  void forget() noexcept {
    if (owner_ != 0 && owner_ != ::getpid()) {
      ::close(sock_.release());
      server_ = 0;
      owner_ = 0;
      exited_.clear();
      started_.clear();
    }
  }

 private:
  int reap_locked(pid_t pid) {
    for (;;) {
      if (const auto it = exited_.find(pid); it != exited_.end()) {
        const int status = it->second;
        exited_.erase(it);
        started_.erase(pid);
        return status;
      }
      const auto it = started_.find(pid);
      if (!sock_ || owner_ != ::getpid() || it == started_.end() || it->second != generation_) {
        // Its server is gone without relaying the status. A child started to die with the
        // caller died with the server (parent-death signal); another one was orphaned,
        // and whoever reaped it has its status.
        started_.erase(pid);
        return kStatusUnknown;
      }
      Reply reply;
      std::vector<sys::UniqueFd> got;
      try {
        receive(reply, got);
      } catch (const std::system_error&) {
        started_.erase(pid);
        return kStatusUnknown;
      }
      if (reply.kind == kExited) {
        exited_[reply.pid] = reply.value;
      }
    }
  }

  Launched request(const LaunchRequest& req, const std::vector<int>& fds) {
    ensure_started();
    if (!send_with_fds(sock_.get(), &req, sizeof req, fds.data(), fds.size())) {
      const int err = errno;
      lost();
      sys::throw_errno("fork server: sendmsg", err);
    }
    for (;;) {
      Reply reply;
      std::vector<sys::UniqueFd> got;
      receive(reply, got);
      if (reply.kind == kExited) {
        exited_[reply.pid] = reply.value;
        continue;
      }
      if (reply.value == 0 && reply.pid > 0 && got.empty()) {
        // The server started the child, but its pidfd could not be received: this process
        // has no descriptor free. The child is the server's and not yet reaped (the server
        // reaps only what it announced), so its pid still names it: kill it and take its
        // exit, so that nothing this launch started outlives the failure.
        ::kill(reply.pid, SIGKILL);
        started_[reply.pid] = generation_;
        reap_locked(reply.pid);
        sys::throw_errno("fork server: receiving a started child's pidfd", EMFILE);
      }
      if (reply.value != 0 || reply.pid <= 0 || got.size() != 1) {
        sys::throw_errno("fork server: fork", reply.value != 0 ? reply.value : EPROTO);
      }
      Launched out;
      out.pid = reply.pid;
      out.pidfd = std::move(got.front());
      started_[out.pid] = generation_;
      return out;
    }
  }

  void ensure_started() {
    forget();
    if (sock_) {
      return;
    }
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
      sys::throw_errno("socketpair");
    }
    sys::UniqueFd mine = sys::above_stdio(sys::UniqueFd(pair[0]));
    sys::UniqueFd theirs = sys::above_stdio(sys::UniqueFd(pair[1]));
    LaunchSpec spec;
    spec.role = "forkserver";
    spec.fds = {theirs.get()};
    const int number = theirs.get();
    spec.blob.resize(sizeof number);
    std::memcpy(spec.blob.data(), &number, sizeof number);
    Launched server = spawn_launcher().launch(spec);
    server_ = server.pid;
    owner_ = ::getpid();
    sock_ = std::move(mine);
  }

  void receive(Reply& reply, std::vector<sys::UniqueFd>& fds) {
    if (!sys::wait_readable(sock_.get(), kReplyTimeoutMs)) {
      lost();
      throw std::system_error(ETIMEDOUT, std::system_category(), "fork server: no answer");
    }
    const ssize_t r = recv_with_fds(sock_.get(), &reply, sizeof reply, fds);
    if (r != static_cast<ssize_t>(sizeof reply)) {
      const int err = r == 0 ? EPIPE : (r < 0 ? errno : EPROTO);
      lost();
      throw std::system_error(err, std::system_category(), "fork server: connection lost");
    }
  }

  // The server died or stopped answering: reap it; the next launch starts a new one.
  void lost() noexcept {
    ++generation_;
    sock_.reset();
    if (server_ > 0) {
      ::kill(server_, SIGKILL);
      while (::waitpid(server_, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    server_ = 0;
  }

  std::mutex mutex_;
  sys::UniqueFd sock_;
  pid_t server_ = 0;
  pid_t owner_ = 0;              // the process that started the server
  std::map<pid_t, int> exited_;  // statuses relayed before they were asked for
  // Which server started each live child: one that died took its children with it.
  std::map<pid_t, std::uint64_t> started_;
  std::uint64_t generation_ = 1;
};

ForkServerClient& client() {
  // Never destroyed: a Pool in a global (or any object destroyed after this one would
  // be) still reaps its workers through it at exit. The server needs no goodbye: the
  // kernel closes the socket when this process ends, and it exits on that EOF.
  static ForkServerClient& c = *new ForkServerClient;
  return c;
}

}  // namespace

Launcher& fork_server() { return client(); }
pid_t fork_server_pid() { return client().pid(); }
void stop_fork_server() { client().stop(); }
void forget_fork_server_in_child() noexcept { client().forget(); }

}  // namespace mp::process
