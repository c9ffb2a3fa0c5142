// A round trip through two Boost.Interprocess message_queues (named shared memory with a
// process-shared mutex and condition variables): the peer the IPC issue names beside mp's
// Pipe and Queue.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/interprocess/ipc/message_queue.hpp>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>

#include "peers.hpp"

namespace mp_bench::peers {

namespace {

namespace bip = boost::interprocess;

std::int64_t receive(bip::message_queue& q) {
  std::int64_t v = 0;
  bip::message_queue::size_type got = 0;
  unsigned priority = 0;
  q.receive(&v, sizeof v, got, priority);
  return v;
}

}  // namespace

RoundTrips boost_mq_ping_pong(int n) {
  const std::string tag = std::to_string(::getpid());
  const std::string to_child_name = "boost-mq-peer-in-" + tag;
  const std::string to_parent_name = "boost-mq-peer-out-" + tag;
  bip::message_queue::remove(to_child_name.c_str());
  bip::message_queue::remove(to_parent_name.c_str());
  RoundTrips out;
  try {
    bip::message_queue to_child(bip::create_only, to_child_name.c_str(), 16, sizeof(std::int64_t));
    bip::message_queue to_parent(bip::create_only, to_parent_name.c_str(), 16,
                                 sizeof(std::int64_t));
    const pid_t parent = ::getpid();
    const pid_t child = ::fork();
    if (child == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) {
        ::_exit(1);
      }
      for (;;) {  // -1 ends it
        const std::int64_t x = receive(to_child);
        if (x < 0) {
          ::_exit(0);
        }
        const std::int64_t reply = x + 1;
        to_parent.send(&reply, sizeof reply, 0);
      }
    }
    if (child > 0) {
      out.ok = true;
      std::int64_t x = 0;
      const auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < n && out.ok; ++i) {
        const std::int64_t sent = x;
        to_child.send(&x, sizeof x, 0);
        x = receive(to_parent);
        out.ok = x == sent + 1;
      }
      out.seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / n;
      const std::int64_t stop = -1;
      to_child.send(&stop, sizeof stop, 0);
      int status = 0;
      while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
      }
      out.ok = out.ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
  } catch (const bip::interprocess_exception&) {
    out.ok = false;
  }
  bip::message_queue::remove(to_child_name.c_str());
  bip::message_queue::remove(to_parent_name.c_str());
  return out;
}

}  // namespace mp_bench::peers
