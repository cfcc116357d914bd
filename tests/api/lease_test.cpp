// The rsp_* calls with the io lease (docs/api.md "Shape"): a blocking rsp_recvmsg runs the io in
// its own thread for a bounded window, so the behaviours that used to come from the separate
// io thread must hold there too: EINTR from signal handlers (and only from them), rsp_close from
// another thread, other threads' sockets progressing meanwhile, and a PE's keep-alives answered
// while its application computes outside any call (real rsp-registrar and echo_pe processes).
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/runtime.hpp"
#include "process.hpp"
#include "rsp/rsp.h"

using namespace std::chrono_literals;
using rsp::api::Runtime;
using rsp::api::test::Child;
using rsp::api::test::free_port;

namespace {

// rsp_initialize with one registrar on loopback (running or not) and fast-failing hunts.
struct Library {
  explicit Library(std::uint16_t registrar_port) : registrar(registrar_port) {
    rsp_info info{};
    info.ri_registrars = &registrar.entry;
    info.ri_disable_autoconfig = 1;
    REQUIRE(rsp_initialize(&info) == 0);
  }
  ~Library() { rsp_cleanup(); }
  Runtime& runtime() { return *Runtime::get(); }
  rsp::api::test::LoopbackRegistrar registrar;
};

std::unique_ptr<Child> start_registrar(std::uint16_t port, const std::vector<std::string>& extra = {}) {
  return std::make_unique<Child>(rsp::api::test::registrar_argv(port, extra));
}

std::string unique_pool(const char* tag) {
  static int counter = 0;
  return std::string(tag) + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

// A registrar and one examples/echo_pe in a new pool (real processes); then Library lib(port).
struct EchoPool {
  explicit EchoPool(const char* tag)
      : port(free_port()),
        registrar(start_registrar(port)),
        pool(unique_pool(tag)),
        pe({ECHO_PE_BIN, "-a", "127.0.0.1", "-h", pool}, {"RSP_REGISTRAR=127.0.0.1:" + std::to_string(port)}) {
    REQUIRE(pe.wait_for("registered ", 20s));
  }
  // rsp_connect of `fd` to the pool.
  int connect(int fd) const {
    return rsp_connect(fd, reinterpret_cast<const unsigned char*>(pool.data()), pool.size());
  }
  const std::uint16_t port;
  std::unique_ptr<Child> registrar;
  const std::string pool;
  Child pe;
};

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds bound = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

std::atomic<int> g_handled{0};
void count_signal(int) { ++g_handled; }

// A SIGUSR1 handler without SA_RESTART (poll-style calls fail with EINTR either way).
struct Usr1Handler {
  Usr1Handler() {
    struct sigaction sa {};
    sa.sa_handler = count_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, &previous);
  }
  ~Usr1Handler() { sigaction(SIGUSR1, &previous, nullptr); }
  struct sigaction previous {};
};

// A thread blocked in rsp_recvmsg on `fd`; its outcome once it returned.
class Receiver {
 public:
  explicit Receiver(int fd) : fd_(fd), thread_([this] {
    char buf[64];
    const ssize_t n = rsp_recvmsg(fd_, buf, sizeof buf, nullptr, nullptr);
    error_ = errno;
    if (n > 0) data_.assign(buf, static_cast<std::size_t>(n));
    result_ = n;
    done_ = true;
  }) {}
  ~Receiver() {
    // Never hang a failing test: data (or a signal) ends any wait of the receiver.
    Usr1Handler escape;
    while (!done_) {
      if (auto socket = Runtime::get()->find(fd_)) socket->push(rsp::api::QueuedItem{});
      pthread_kill(thread_.native_handle(), SIGUSR1);
      eventually([&] { return done_.load(); }, 20ms);
    }
    thread_.join();
  }
  bool done() const { return done_; }
  // Waits (bounded) for the receiver to return; `poke` runs between waits.
  bool wait(const std::function<void()>& poke = {}, std::chrono::milliseconds bound = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (!done_ && std::chrono::steady_clock::now() < deadline) {
      if (poke) poke();
      eventually([&] { return done_.load(); }, 20ms);
    }
    return done_;
  }
  pthread_t handle() { return thread_.native_handle(); }
  ssize_t result() const { return result_; }
  int error() const { return error_; }
  const std::string& data() const { return data_; }

 private:
  const int fd_;
  std::atomic<bool> done_{false};
  ssize_t result_ = 0;
  int error_ = 0;
  std::string data_;
  std::thread thread_;
};

// The next data message on `fd` (notifications skipped), or "" once RSP_RCVTIMEO elapsed.
std::string receive_data(int fd) {
  static char buf[8192];
  int flags = 0;
  ssize_t n = 0;
  do {
    n = rsp_recvmsg(fd, buf, sizeof buf, nullptr, &flags);
  } while (n > 0 && (flags & MSG_RSERPOOL_NOTIFICATION) != 0);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

int new_socket() {
  const int fd = rsp_socket(AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP);
  REQUIRE(fd >= 0);
  return fd;
}

void push_byte(int fd, char c) {
  auto socket = Runtime::get()->find(fd);
  REQUIRE(socket);
  rsp::api::QueuedItem item;
  item.data = {std::byte(c)};
  socket->push(std::move(item));
}

void check_signal_interrupts(std::chrono::milliseconds window) {
  Library lib(free_port());
  lib.runtime().set_receive_window(window);
  Usr1Handler handler;
  g_handled = 0;
  const int fd = new_socket();
  {
    Receiver receiver(fd);
    if (window > 1s) REQUIRE(eventually([&] { return lib.runtime().lease().held_by_application(); }));
    const pthread_t target = receiver.handle();
    // Repeated: a signal that lands before the receiver blocks is handled and lost.
    CHECK(receiver.wait([&] { pthread_kill(target, SIGUSR1); }));
    CHECK(receiver.result() == -1);
    CHECK(receiver.error() == EINTR);
  }
  CHECK(g_handled > 0);
  rsp_close(fd);
}

}  // namespace

TEST_CASE("a signal handler interrupts rsp_recvmsg with EINTR while it runs the io itself") {
  check_signal_interrupts(1h);  // the receiver stays in its fast window
}

TEST_CASE("a signal handler interrupts rsp_recvmsg with EINTR while it waits on the eventfd") {
  check_signal_interrupts(0ms);  // no window: straight to ppoll(2)
}

TEST_CASE("ignored signals and signals the caller blocked do not interrupt rsp_recvmsg") {
  Library lib(free_port());
  lib.runtime().set_receive_window(1h);
  Usr1Handler handler;
  g_handled = 0;
  struct sigaction ignore {}, previous_usr2 {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGUSR2, &ignore, &previous_usr2);
  const int fd = new_socket();
  std::atomic<pid_t> tid{0};
  std::atomic<ssize_t> result{0};
  char c = 0;
  std::thread receiver([&] {
    sigset_t usr1;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &usr1, nullptr);  // the caller's own choice: it stays pending
    tid = ::gettid();
    result = rsp_recvmsg(fd, &c, 1, nullptr, nullptr);
    pthread_sigmask(SIG_UNBLOCK, &usr1, nullptr);  // delivered now
  });
  REQUIRE(eventually([&] { return tid != 0 && lib.runtime().lease().held_by_application(); }));
  pthread_kill(receiver.native_handle(), SIGUSR2);
  pthread_kill(receiver.native_handle(), SIGUSR1);
  // Both are pending in the receiver (its /proc status says so); the window checks for
  // signals every millisecond, and neither may end its wait.
  const std::string status = "/proc/self/task/" + std::to_string(tid.load()) + "/status";
  const unsigned long both = (1UL << (SIGUSR1 - 1)) | (1UL << (SIGUSR2 - 1));
  CHECK(eventually([&] {
    std::ifstream in(status);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("SigPnd:", 0) == 0) return (std::stoul(line.substr(7), nullptr, 16) & both) == both;
    }
    return false;
  }));
  CHECK_FALSE(eventually([&] { return result != 0; }, 100ms));
  CHECK(g_handled == 0);
  push_byte(fd, 'd');
  receiver.join();
  CHECK(result == 1);
  CHECK(c == 'd');
  CHECK(g_handled == 1);  // handled once the receiver unblocked it itself
  sigaction(SIGUSR2, &previous_usr2, nullptr);
  rsp_close(fd);
}

TEST_CASE("rsp_close from another thread ends a receive that runs the io itself with EBADF") {
  Library lib(free_port());
  lib.runtime().set_receive_window(1h);
  const int fd = new_socket();
  Receiver receiver(fd);
  REQUIRE(eventually([&] { return lib.runtime().lease().held_by_application(); }));
  CHECK(rsp_close(fd) == 0);  // its work runs on the receiver's thread, which holds the lease
  CHECK(receiver.wait());
  CHECK(receiver.result() == -1);
  CHECK(receiver.error() == EBADF);
}

TEST_CASE("after a receive that ran the io, the socket is readable exactly while items remain") {
  Library lib(free_port());
  lib.runtime().set_receive_window(1h);
  const int fd = new_socket();
  auto socket = lib.runtime().find(fd);
  {
    Receiver receiver(fd);
    REQUIRE(eventually([&] { return lib.runtime().lease().held_by_application(); }));
    // Queued by the receiver's own thread (it runs what is posted while it holds the lease),
    // which does not signal the eventfd for what it is about to take itself.
    lib.runtime().lease().post([socket] {
      for (const char c : {'a', 'b'}) {
        rsp::api::QueuedItem item;
        item.data = {std::byte(c)};
        socket->push(std::move(item));
      }
    });
    CHECK(receiver.wait());
    CHECK(receiver.data() == "a");
  }
  pollfd p{fd, POLLIN, 0};
  CHECK(rsp_poll(&p, 1, 0) == 1);  // 'b' is still queued
  char c = 0;
  CHECK(rsp_recv(fd, &c, 1, MSG_DONTWAIT) == 1);
  CHECK(c == 'b');
  CHECK(rsp_poll(&p, 1, 0) == 0);
  rsp_close(fd);
}

// An echo pool, the library, and a Receiver blocked in rsp_recvmsg on connected socket `a` with
// an hour-long receive window: it holds the io lease until a message for it arrives.
struct LeaseHeldByReceiver {
  explicit LeaseHeldByReceiver(const char* tag) : pool(tag), lib(pool.port) {
    lib.runtime().set_receive_window(1h);
    a = new_socket();
    REQUIRE(pool.connect(a) == 0);
    receiver.emplace(a);
    REQUIRE(eventually([&] { return lib.runtime().lease().held_by_application(); }));
  }
  EchoPool pool;
  Library lib;
  int a = -1;
  std::optional<Receiver> receiver;
};

TEST_CASE("two threads on two sockets both progress while one of them runs the io in rsp_recvmsg") {
  LeaseHeldByReceiver held("lease");
  auto& pool = held.pool;
  auto& lib = held.lib;
  const int a = held.a;
  auto& receiver = *held.receiver;

  // This thread cannot take the lease: connect, sends and receives go through the receiver.
  const int b = new_socket();
  REQUIRE(pool.connect(b) == 0);
  const timeval five{5, 0};
  REQUIRE(rsp_setsockopt(b, SOL_RSERPOOL, RSP_RCVTIMEO, &five, sizeof five) == 0);
  for (int i = 0; i < 20; ++i) {
    const std::string text = "b" + std::to_string(i);
    REQUIRE(rsp_sendmsg(b, text.data(), text.size(), nullptr, 0) == static_cast<ssize_t>(text.size()));
    char buf[64];
    int flags = 0;
    ssize_t n = 0;
    do {
      n = rsp_recvmsg(b, buf, sizeof buf, nullptr, &flags);
    } while (n > 0 && (flags & MSG_RSERPOOL_NOTIFICATION) != 0);
    REQUIRE(n == static_cast<ssize_t>(text.size()));
    CHECK(std::string(buf, static_cast<std::size_t>(n)) == text);
  }
  CHECK_FALSE(receiver.done());
  CHECK(lib.runtime().lease().held_by_application());  // still the receiver's

  // A message on the receiver's socket, sent from this thread, ends its wait.
  REQUIRE(rsp_sendmsg(a, "for a", 5, nullptr, 0) == 5);
  CHECK(receiver.wait());
  CHECK(receiver.data() == "for a");
  rsp_close(a);
  rsp_close(b);
}

TEST_CASE("a call that the lease holder runs for this thread sets this thread's errno") {
  LeaseHeldByReceiver held("errno");
  auto& lib = held.lib;
  const int a = held.a;
  auto& receiver = *held.receiver;

  // The receiver holds the lease: these calls run on its thread and fail there.
  const int unconnected = new_socket();
  unsigned char handle[32];
  size_t size = sizeof handle;
  std::uint32_t pe = 0;
  errno = 0;
  CHECK(rsp_getpeername(unconnected, handle, &size, &pe) == -1);
  CHECK(errno == ENOTCONN);
  errno = 0;
  CHECK(rsp_getsockname(unconnected, handle, &size, &pe) == -1);
  CHECK(errno == ENOTCONN);
  errno = 0;
  CHECK(rsp_has_cookie(unconnected) == -1);
  CHECK(errno == ENOTCONN);
  errno = 0;
  CHECK(rsp_forcefailover(unconnected, 0, 0) == -1);
  CHECK(errno == ENOTCONN);
  CHECK(lib.runtime().lease().held_by_application());  // still the receiver's
  CHECK_FALSE(receiver.done());

  REQUIRE(rsp_sendmsg(a, "end", 3, nullptr, 0) == 3);
  CHECK(receiver.wait());
  rsp_close(unconnected);
  rsp_close(a);
}

TEST_CASE("a full send queue: EAGAIN at once when non-blocking, after RSP_SNDTIMEO when blocking; a blocking send goes once the PE reads again") {
  EchoPool pool("full");
  Library lib(pool.port);
  const int fd = new_socket();
  // The frozen PE must not be given up meanwhile: retransmissions for half a minute.
  rserpool_session_parameters patient{};
  patient.sp_rto_initial = 200;
  patient.sp_rto_min = 200;
  patient.sp_rto_max = 1000;
  patient.sp_assoc_max_rxt = 30;
  patient.sp_path_max_rxt = 30;
  patient.sp_hbinterval = 5000;
  REQUIRE(rsp_setsockopt(fd, SOL_RSERPOOL, RSP_ASSOC_PARAMS, &patient, sizeof patient) == 0);
  const timeval ten{10, 0};
  REQUIRE(rsp_setsockopt(fd, SOL_RSERPOOL, RSP_RCVTIMEO, &ten, sizeof ten) == 0);
  REQUIRE(pool.connect(fd) == 0);
  auto receive = [fd] { return receive_data(fd); };
  REQUIRE(rsp_sendmsg(fd, "hello", 5, nullptr, 0) == 5);
  REQUIRE(receive() == "hello");

  pool.pe.signal(SIGSTOP);
  const std::string block(4096, 'b');
  constexpr int kCap = 5000;  // 20 MB: far beyond the association's buffer and the 1 MiB queue
  int accepted = 0;
  errno = 0;
  while (accepted < kCap &&
         rsp_sendmsg(fd, block.data(), block.size(), nullptr, MSG_DONTWAIT) == static_cast<ssize_t>(block.size()))
    ++accepted;
  CHECK(errno == EAGAIN);
  CHECK(accepted < kCap);
  INFO("accepted " << accepted);
  CHECK(accepted >= 256);  // at least the session's queue (1 MiB)

  const timeval tenth{0, 100000};
  REQUIRE(rsp_setsockopt(fd, SOL_RSERPOOL, RSP_SNDTIMEO, &tenth, sizeof tenth) == 0);
  const auto before = std::chrono::steady_clock::now();
  errno = 0;
  CHECK(rsp_sendmsg(fd, block.data(), block.size(), nullptr, 0) == -1);
  CHECK(errno == EAGAIN);
  CHECK(std::chrono::steady_clock::now() - before >= 100ms);
  // RSPLIB's form: its timeout_ms bounds the wait instead (0: none).
  const auto rsplib_before = std::chrono::steady_clock::now();
  errno = 0;
  CHECK(rsp_sendmsg_rsplib(fd, block.data(), block.size(), 0, 0, 0, 0, 0, 0, 300) == -1);
  CHECK(errno == EAGAIN);
  CHECK(std::chrono::steady_clock::now() - rsplib_before >= 300ms);
  errno = 0;
  CHECK(rsp_sendmsg_rsplib(fd, block.data(), block.size(), 0, 0, 0, 0, 0, 0, 0) == -1);
  CHECK(errno == EAGAIN);

  const timeval forever{0, 0};
  REQUIRE(rsp_setsockopt(fd, SOL_RSERPOOL, RSP_SNDTIMEO, &forever, sizeof forever) == 0);
  std::atomic<ssize_t> result{-2};
  std::thread sender([&] { result = rsp_sendmsg(fd, "last", 4, nullptr, 0); });
  pool.pe.signal(SIGCONT);
  CHECK(eventually([&] { return result.load() != -2; }, 20s));
  sender.join();
  CHECK(result.load() == 4);

  // Nothing accepted was lost: every message comes back, in order, then the last one.
  int echoed = 0;
  std::string reply;
  while ((reply = receive()) == block) ++echoed;
  CHECK(echoed == accepted);
  CHECK(reply == "last");
  rsp_close(fd);
}

TEST_CASE("a PU that stops reading: its queue stops at its RSP_RCVBUF, the PE and then the PU's sends back up; read, every reply arrives in order") {
  EchoPool pool("slow");
  Library lib(pool.port);
  const int fd = new_socket();
  const timeval ten{10, 0};
  REQUIRE(rsp_setsockopt(fd, SOL_RSERPOOL, RSP_RCVTIMEO, &ten, sizeof ten) == 0);
  constexpr int kReceiveLimit = 64 * 1024;
  REQUIRE(rsp_setsockopt(fd, SOL_RSERPOOL, RSP_RCVBUF, &kReceiveLimit, sizeof kReceiveLimit) == 0);
  REQUIRE(pool.connect(fd) == 0);
  auto receive = [fd] { return receive_data(fd); };
  REQUIRE(rsp_sendmsg(fd, "hello", 5, nullptr, 0) == 5);
  REQUIRE(receive() == "hello");

  // Sends without reading, until they find no room even after the io thread had time to move
  // things along. The cap (80 MB) ends a run where nothing pushes back.
  constexpr int kCap = 20000;
  int accepted = 0;
  bool blocked = false;
  while (!blocked && accepted < kCap) {
    const std::string text = std::to_string(accepted) + std::string(4090, '.');
    if (rsp_sendmsg(fd, text.data(), text.size(), nullptr, MSG_DONTWAIT) == static_cast<ssize_t>(text.size())) {
      ++accepted;
      continue;
    }
    REQUIRE(errno == EAGAIN);
    std::this_thread::sleep_for(100ms);  // the io thread runs meanwhile
    if (rsp_sendmsg(fd, text.data(), text.size(), nullptr, MSG_DONTWAIT) == static_cast<ssize_t>(text.size()))
      ++accepted;
    else
      blocked = (errno == EAGAIN);
  }
  INFO("accepted " << accepted);
  CHECK(blocked);
  // The replies the PU did not read wait in its queue: the limit and the message that passed
  // it, not everything (delivery stops right after the message that went over).
  const auto socket = lib.runtime().find(fd);
  REQUIRE(socket);
  CHECK(socket->queued_bytes() > kReceiveLimit);
  CHECK(socket->queued_bytes() <= kReceiveLimit + 4096);

  // Read: every accepted message comes back, in order.
  int echoed = 0;
  while (echoed < accepted) {
    const std::string reply = receive();
    if (reply.empty()) break;
    if (reply.substr(0, reply.find('.')) != std::to_string(echoed)) {
      FAIL_CHECK("reply " << echoed << " was " << reply.substr(0, 16));
      break;
    }
    ++echoed;
  }
  CHECK(echoed == accepted);
  rsp_close(fd);
}

TEST_CASE("rsp_poll hands the io to the io thread: a reply arrives while the caller waits in it") {
  EchoPool pool("poll");
  Library lib(pool.port);
  // The io thread would only take the io back after an hour: just the hand-over serves it.
  lib.runtime().lease().set_grace(1h);
  const int fd = new_socket();
  REQUIRE(pool.connect(fd) == 0);
  for (int i = 0; i < 3; ++i) {
    REQUIRE(rsp_sendmsg(fd, "ping", 4, nullptr, 0) == 4);  // sent by this thread, lease kept
    pollfd p{fd, POLLIN, 0};
    REQUIRE(rsp_poll(&p, 1, 10'000) == 1);
    char buf[16];
    ssize_t n = 0;
    do {  // rsp_recv skips notifications; wait again if that was all
      n = rsp_recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    } while (n < 0 && errno == EAGAIN && rsp_poll(&p, 1, 10'000) == 1);
    CHECK(n == 4);
  }
  rsp_close(fd);
}

TEST_CASE("a PE that computes for longer than the grace period keeps its registration") {
  const std::uint16_t port = free_port();
  // The registrar drops a PE that leaves ENDPOINT_KEEP_ALIVE unanswered for 200 ms
  // (RFC 5352 §3.7).
  auto registrar = start_registrar(port, {"--keepalive-interval", "100ms", "--keepalive-timeout", "200ms"});
  Library lib(port);
  const std::string pool = unique_pool("compute");
  const auto* handle = reinterpret_cast<const unsigned char*>(pool.data());
  const int fd = new_socket();
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(rsp_bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) == 0);
  REQUIRE(rsp_register(fd, handle, pool.size(), nullptr) == 0);
  std::uint32_t id = 0;
  REQUIRE(rsp_getsockname(fd, nullptr, nullptr, &id) == 0);  // leaves the call holding nothing

  // "Computing": no rsp_* call for many keep-alive periods. The io thread must have taken the
  // io back after the grace period to answer the registrar.
  std::this_thread::sleep_for(1500ms);

  rsp_poolinfo* info = nullptr;
  REQUIRE(rsp_getpoolinfo(-1, handle, pool.size(), 8, &info) == 1);  // the number of PEs
  bool listed = false;
  for (const rsp_peinfo* p = info->pi_first; p != nullptr; p = p->pi_next) listed |= p->pi_pe_id == id;
  CHECK(listed);
  rsp_freepoolinfo(info);
  rsp_close(fd);
}

TEST_CASE("a message sent while received ones wait in the queue leaves though the application then calls nothing") {
  // rsp_sendmsg holds a burst's answers back to send them together (docs/api.md "Shape"); the
  // last one of a burst may be followed by no call at all: it must leave anyway, at the io's
  // next turn (the io thread's, once the grace period passed) or with the next packet that
  // arrives. (usrsctp_test.cpp's "held output" case pins the io's-next-turn rule alone.)
  EchoPool pool("burst");
  Library lib(pool.port);
  const int fd = new_socket();
  REQUIRE(pool.connect(fd) == 0);
  // rsp_recv with MSG_DONTWAIT never runs the io: what it finds, the io thread queued.
  auto next = [fd]() -> std::string {
    char buf[16];
    const ssize_t n = rsp_recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
  };
  for (const char* m : {"p1", "p2", "p3"}) REQUIRE(rsp_sendmsg(fd, m, 2, nullptr, 0) == 2);
  std::this_thread::sleep_for(300ms);  // the three echoes arrive meanwhile
  std::string first;
  REQUIRE(eventually([&] { return !(first = next()).empty(); }));
  CHECK(first == "p1");
  // Two echoes still queued: this answer is held back.
  REQUIRE(rsp_sendmsg(fd, "late", 4, nullptr, 0) == 4);
  std::vector<std::string> rest;
  CHECK(eventually([&] {
    if (auto m = next(); !m.empty()) rest.push_back(m);
    return rest.size() == 3;
  }));
  CHECK(rest == std::vector<std::string>{"p2", "p3", "late"});
  rsp_close(fd);
}
