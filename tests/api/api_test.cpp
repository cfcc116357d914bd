// Unit-level tests of the rsp_* API that need no registrar: argument checking and errno values,
// socket options, the receive queue and its eventfd readiness, poll/select over RSerPool
// sockets and plain descriptors, pass-through of plain descriptors, close waking receivers.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "api/runtime.hpp"
#include "process.hpp"
#include "rsp/api/socket.hpp"
#include "rsp/rsp.h"

using namespace std::chrono_literals;

extern "C" int rsplib_compat_calls(void);

namespace {

// Initialises the library with one registrar that does not exist and short hunt timers, so a
// call that needs a registrar fails fast; cleans up afterwards.
struct Library {
  Library() {
    port = rsp::api::test::free_port();
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons(port);
    std::memcpy(&address, &sin, sizeof sin);
    registrar.rri_addr = reinterpret_cast<sockaddr*>(&address);
    registrar.rri_addrs = 1;
    rsp_info info{};
    info.ri_registrars = &registrar;
    info.ri_disable_autoconfig = 1;
    info.ri_registrar_connect_timeout = 100;
    info.ri_registrar_connect_max_trials = 1;
    info.ri_registrar_request_timeout = 100;
    info.ri_registrar_request_max_trials = 1;
    REQUIRE(rsp_initialize(&info) == 0);
    CHECK(info.ri_version == RSP_API_VERSION);
  }
  ~Library() { rsp_cleanup(); }
  std::uint16_t port = 0;
  sockaddr_storage address{};
  rsp_registrar_info registrar{};
};

int new_socket() {
  const int fd = rsp_socket(AF_INET, SOCK_DGRAM, IPPROTO_SCTP);
  REQUIRE(fd >= 0);
  return fd;
}

}  // namespace

TEST_CASE("rsp_socket rejects unsupported domains, types and protocols with the socket errno") {
  Library lib;
  errno = 0;
  CHECK(rsp_socket(AF_UNIX, SOCK_DGRAM, 0) == -1);
  CHECK(errno == EAFNOSUPPORT);
  CHECK(rsp_socket(AF_INET, SOCK_RAW, 0) == -1);
  CHECK(errno == EINVAL);
  CHECK(rsp_socket(AF_INET, SOCK_DGRAM, IPPROTO_TCP) == -1);
  CHECK(errno == EPROTONOSUPPORT);
  const int fd = rsp_socket(AF_INET6, SOCK_SEQPACKET, 0);
  CHECK(fd >= 0);
  CHECK(rsp_close(fd) == 0);
}

TEST_CASE("rsp_* calls on a descriptor that is not an RSerPool socket fail with EBADF") {
  Library lib;
  int p[2];
  REQUIRE(::pipe(p) == 0);
  const unsigned char pool[] = "echo";
  errno = 0;
  CHECK(rsp_register(p[0], pool, 4, nullptr) == -1);
  CHECK(errno == EBADF);
  CHECK(rsp_connect(p[0], pool, 4) == -1);
  CHECK(errno == EBADF);
  CHECK(rsp_sendmsg(p[1], "x", 1, nullptr, 0) == -1);
  CHECK(errno == EBADF);
  char buf[8];
  CHECK(rsp_recvmsg(p[0], buf, sizeof buf, nullptr, nullptr) == -1);
  CHECK(errno == EBADF);
  int v = 0;
  socklen_t len = sizeof v;
  CHECK(rsp_getsockopt(p[0], SOL_RSERPOOL, RSP_NONBLOCK, &v, &len) == -1);
  CHECK(errno == EBADF);
  ::close(p[0]);
  ::close(p[1]);
}

TEST_CASE("rsp_read, rsp_write and rsp_close pass plain descriptors through to the system") {
  Library lib;
  int p[2];
  REQUIRE(::pipe(p) == 0);
  CHECK(rsp_write(p[1], "abc", 3) == 3);
  char buf[8] = {};
  CHECK(rsp_read(p[0], buf, sizeof buf) == 3);
  CHECK(std::string(buf, 3) == "abc");
  CHECK(rsp_close(p[0]) == 0);
  CHECK(rsp_close(p[1]) == 0);
  CHECK(::fcntl(p[0], F_GETFD) == -1);  // really closed
}

TEST_CASE("rsp_bind wants the whole address of its family, as bind(2)") {
  Library lib;
  const int fd = rsp_socket(AF_INET6, SOCK_SEQPACKET, IPPROTO_SCTP);
  REQUIRE(fd >= 0);
  sockaddr_in6 six{};
  six.sin6_family = AF_INET6;
  six.sin6_addr = in6addr_loopback;
  errno = 0;
  CHECK(rsp_bind(fd, reinterpret_cast<sockaddr*>(&six), sizeof(sockaddr_in)) == -1);
  CHECK(errno == EINVAL);
  CHECK(rsp_bind(fd, reinterpret_cast<sockaddr*>(&six), 1) == -1);
  CHECK(rsp_bind(fd, reinterpret_cast<sockaddr*>(&six), sizeof six) == 0);
  rsp_close(fd);
}

TEST_CASE("pool handles must be 1..32 bytes: EINVAL otherwise") {
  Library lib;
  const int fd = new_socket();
  const unsigned char long_handle[40] = {};
  errno = 0;
  CHECK(rsp_register(fd, long_handle, 33, nullptr) == -1);
  CHECK(errno == EINVAL);
  CHECK(rsp_connect(fd, long_handle, 0) == -1);
  CHECK(errno == EINVAL);
  CHECK(rsp_connect(fd, nullptr, 4) == -1);
  CHECK(errno == EINVAL);
  rsp_close(fd);
}

TEST_CASE("sending on a socket that is neither connected nor registered fails with ENOTCONN") {
  Library lib;
  const int fd = new_socket();
  errno = 0;
  CHECK(rsp_sendmsg(fd, "x", 1, nullptr, 0) == -1);
  CHECK(errno == ENOTCONN);
  CHECK(rsp_sendmsg(fd, "x", 0, nullptr, 0) == -1);
  CHECK(errno == EINVAL);
  rsp_sndrcvinfo asap_ppid{};
  asap_ppid.rinfo_ppid = 11;  // reserved for ASAP session-layer messages
  CHECK(rsp_sendmsg(fd, "x", 1, &asap_ppid, 0) == -1);
  CHECK(errno == EINVAL);
  CHECK(rsp_forcefailover(fd, FFF_NONE, 0) == -1);
  CHECK(errno == ENOTCONN);
  CHECK(rsp_has_cookie(fd) == -1);
  CHECK(errno == ENOTCONN);
  uint32_t id = 0;
  CHECK(rsp_getsockname(fd, nullptr, nullptr, &id) == -1);
  CHECK(errno == ENOTCONN);
  rsp_close(fd);
}

TEST_CASE("rsp_recvmsg with RSP_RCVTIMEO returns EAGAIN once the timeout elapses") {
  Library lib;
  const int fd = new_socket();
  timeval tv{0, 80'000};
  REQUIRE(rsp_setsockopt(fd, SOL_RSERPOOL, RSP_RCVTIMEO, &tv, sizeof tv) == 0);
  char buf[16];
  const auto start = std::chrono::steady_clock::now();
  errno = 0;
  CHECK(rsp_recvmsg(fd, buf, sizeof buf, nullptr, nullptr) == -1);
  CHECK(errno == EAGAIN);
  const auto took = std::chrono::steady_clock::now() - start;
  CHECK(took >= 70ms);
  CHECK(took < 2s);
  // SOL_SOCKET's name for the same option reads back the same value.
  timeval back{};
  socklen_t len = sizeof back;
  REQUIRE(rsp_getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &back, &len) == 0);
  CHECK(back.tv_usec == 80'000);
  rsp_close(fd);
}

TEST_CASE("RSP_NONBLOCK and MSG_DONTWAIT make an empty socket return EAGAIN at once") {
  Library lib;
  const int fd = new_socket();
  char buf[4];
  errno = 0;
  CHECK(rsp_recv(fd, buf, sizeof buf, MSG_DONTWAIT) == -1);
  CHECK(errno == EAGAIN);
  const int on = 1;
  REQUIRE(rsp_setsockopt(fd, SOL_RSERPOOL, RSP_NONBLOCK, &on, sizeof on) == 0);
  CHECK(rsp_recvmsg(fd, buf, sizeof buf, nullptr, nullptr) == -1);
  CHECK(errno == EAGAIN);
  CHECK(rsp_recvmsg_rsplib(fd, buf, sizeof buf, nullptr, nullptr, 0) == -1);
  rsp_close(fd);
}

TEST_CASE("socket options round-trip and reject bad values") {
  Library lib;
  const int fd = new_socket();
  rsp_event_subscribe events{};
  socklen_t len = sizeof events;
  REQUIRE(rsp_getsockopt(fd, SOL_RSERPOOL, RSP_EVENTS, &events, &len) == 0);
  CHECK(events.rsp_failover_event == 1);        // documented defaults
  CHECK(events.rsp_message_status_event == 1);
  CHECK(events.rsp_session_change_event == 0);
  events.rsp_session_change_event = 1;
  REQUIRE(rsp_setsockopt(fd, SOL_RSERPOOL, RSP_EVENTS, &events, sizeof events) == 0);
  rsp_event_subscribe back{};
  len = sizeof back;
  REQUIRE(rsp_getsockopt(fd, SOL_RSERPOOL, RSP_EVENTS, &back, &len) == 0);
  CHECK(back.rsp_session_change_event == 1);

  // RSP_SNDBUF / RSP_RCVBUF (also SOL_SOCKET's SO_SNDBUF / SO_RCVBUF): 1 MiB by default.
  int bytes = 0;
  len = sizeof bytes;
  REQUIRE(rsp_getsockopt(fd, SOL_RSERPOOL, RSP_SNDBUF, &bytes, &len) == 0);
  CHECK(bytes == 1 << 20);
  REQUIRE(rsp_getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, &len) == 0);
  CHECK(bytes == 1 << 20);
  const int small = 65536;
  REQUIRE(rsp_setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small) == 0);
  REQUIRE(rsp_setsockopt(fd, SOL_RSERPOOL, RSP_RCVBUF, &small, sizeof small) == 0);
  REQUIRE(rsp_getsockopt(fd, SOL_RSERPOOL, RSP_SNDBUF, &bytes, &len) == 0);
  CHECK(bytes == small);
  REQUIRE(rsp_getsockopt(fd, SOL_RSERPOOL, RSP_RCVBUF, &bytes, &len) == 0);
  CHECK(bytes == small);
  const int none = 0;
  errno = 0;
  CHECK(rsp_setsockopt(fd, SOL_RSERPOOL, RSP_RCVBUF, &none, sizeof none) == -1);
  CHECK(errno == EINVAL);

  int bad = 7;
  errno = 0;
  CHECK(rsp_setsockopt(fd, SOL_RSERPOOL, RSP_FAILOVER_POLICY, &bad, sizeof bad) == -1);
  CHECK(errno == EINVAL);
  CHECK(rsp_setsockopt(fd, SOL_RSERPOOL, RSP_CONFIRMATION, &bad, sizeof bad) == -1);
  CHECK(errno == EINVAL);
  CHECK(rsp_setsockopt(fd, SOL_RSERPOOL, 999, &bad, sizeof bad) == -1);
  CHECK(errno == ENOPROTOOPT);
  CHECK(rsp_setsockopt(fd, SOL_RSERPOOL, RSP_EVENTS, &bad, 1) == -1);  // too short
  CHECK(errno == EINVAL);

  rserpool_session_parameters p{};
  p.sp_rto_min = 50;
  p.sp_rto_max = 100;
  p.sp_hbinterval = 50;
  REQUIRE(rsp_update_session_parameters(fd, &p) == 0);
  CHECK(p.sp_rto_min == 50);
  CHECK(p.sp_rto_max == 100);
  CHECK(p.sp_hbinterval == 50);
  CHECK(p.sp_rto_initial > 0);  // unchanged fields read back as in effect
  p.sp_rto_min = 500;           // min > max
  CHECK(rsp_setsockopt(fd, SOL_RSERPOOL, RSP_ASSOC_PARAMS, &p, sizeof p) == -1);
  CHECK(errno == EINVAL);
  rsp_close(fd);
}

TEST_CASE("rsp_poll and rsp_select wait on RSerPool sockets and ordinary descriptors together") {
  Library lib;
  const int fd = new_socket();
  int p[2];
  REQUIRE(::pipe(p) == 0);
  pollfd fds[2] = {{fd, POLLIN, 0}, {p[0], POLLIN, 0}};
  CHECK(rsp_poll(fds, 2, 0) == 0);  // nothing readable yet
  std::thread writer([&] {
    std::this_thread::yield();
    [[maybe_unused]] auto n = ::write(p[1], "x", 1);
  });
  CHECK(rsp_poll(fds, 2, -1) == 1);  // -1: forever, woken by the pipe
  writer.join();
  CHECK((fds[1].revents & POLLIN) != 0);
  CHECK(fds[0].revents == 0);

  // The RSerPool socket becomes readable when its queue gets an item.
  auto socket = rsp::api::Runtime::get()->find(fd);
  REQUIRE(socket);
  rsp::api::QueuedItem item;
  item.data = {std::byte{'h'}, std::byte{'i'}};
  socket->push(std::move(item));
  fd_set r;
  FD_ZERO(&r);
  FD_SET(fd, &r);
  timeval zero{0, 0};
  CHECK(rsp_select(fd + 1, &r, nullptr, nullptr, &zero) == 1);
  CHECK(FD_ISSET(fd, &r));
  char buf[8];
  int flags = 0;
  CHECK(rsp_recvmsg(fd, buf, sizeof buf, nullptr, &flags) == 2);
  CHECK((flags & MSG_EOR) != 0);
  FD_ZERO(&r);
  FD_SET(fd, &r);
  CHECK(rsp_select(fd + 1, &r, nullptr, nullptr, &zero) == 0);  // drained: not readable
  ::close(p[0]);
  ::close(p[1]);
  rsp_close(fd);
}

TEST_CASE("a message larger than the buffer is delivered in pieces; MSG_EOR marks the last") {
  Library lib;
  const int fd = new_socket();
  auto socket = rsp::api::Runtime::get()->find(fd);
  rsp::api::QueuedItem item;
  item.info.rinfo_ppid = 42;
  for (char c : std::string("abcdefg")) item.data.push_back(static_cast<std::byte>(c));
  socket->push(std::move(item));
  char buf[4];
  rsp_sndrcvinfo info{};
  int flags = 0;
  CHECK(rsp_recvmsg(fd, buf, 4, &info, &flags) == 4);
  CHECK(std::string(buf, 4) == "abcd");
  CHECK((flags & MSG_EOR) == 0);
  CHECK(info.rinfo_ppid == 42);
  CHECK(rsp_recvmsg(fd, buf, 4, &info, &flags) == 3);
  CHECK(std::string(buf, 3) == "efg");
  CHECK((flags & MSG_EOR) != 0);
  rsp_close(fd);
}

TEST_CASE("notifications come in-band with MSG_RSERPOOL_NOTIFICATION; rsp_read skips them") {
  Library lib;
  const int fd = new_socket();
  auto socket = rsp::api::Runtime::get()->find(fd);
  rserpool_failover f{};
  f.rf_type = RSERPOOL_FAILOVER;
  f.rf_length = sizeof f;
  f.rf_state = RSERPOOL_FAILOVER_COMPLETE;
  socket->push_notification(RSERPOOL_FAILOVER, &f, sizeof f);
  rserpool_session_change unsubscribed{};  // session change events are off by default
  socket->push_notification(RSERPOOL_SESSION_CHANGE, &unsubscribed, sizeof unsubscribed);
  rsp::api::QueuedItem item;
  item.data = {std::byte{'z'}};
  socket->push(std::move(item));

  union rserpool_notification n {};
  int flags = 0;
  CHECK(rsp_recvmsg(fd, &n, sizeof n, nullptr, &flags) == static_cast<ssize_t>(sizeof f));
  CHECK((flags & MSG_RSERPOOL_NOTIFICATION) != 0);
  CHECK(n.rn_header.rn_type == RSERPOOL_FAILOVER);
  CHECK(n.rn_failover.rf_state == RSERPOOL_FAILOVER_COMPLETE);
  char c = 0;
  CHECK(rsp_recvmsg(fd, &c, 1, nullptr, &flags) == 1);  // the session change was not queued
  CHECK(c == 'z');

  socket->push_notification(RSERPOOL_FAILOVER, &f, sizeof f);
  rsp::api::QueuedItem data;
  data.data = {std::byte{'y'}};
  socket->push(std::move(data));
  CHECK(rsp_read(fd, &c, 1) == 1);
  CHECK(c == 'y');
  rsp_close(fd);
}

TEST_CASE("rsp_close from another thread wakes a blocked rsp_recvmsg with EBADF") {
  Library lib;
  const int fd = new_socket();
  std::atomic<int> result{0};
  std::atomic<int> error{0};
  std::thread receiver([&] {
    char buf[8];
    result = static_cast<int>(rsp_recvmsg(fd, buf, sizeof buf, nullptr, nullptr));
    error = errno;
  });
  // Close once the receiver is blocked; if it is not yet, it finds the socket gone: EBADF too.
  std::this_thread::yield();
  CHECK(rsp_close(fd) == 0);
  receiver.join();
  CHECK(result == -1);
  CHECK(error == EBADF);
}

TEST_CASE("rsp_connect without a reachable registrar fails with ENETUNREACH, bounded") {
  Library lib;
  const int fd = new_socket();
  const unsigned char pool[] = "nobody";
  const auto start = std::chrono::steady_clock::now();
  errno = 0;
  CHECK(rsp_connect(fd, pool, 6) == -1);
  CHECK((errno == ENETUNREACH || errno == ETIMEDOUT));
  CHECK(std::chrono::steady_clock::now() - start < 20s);
  rsp_close(fd);
}

TEST_CASE("rsp_initarg parses RSPLIB-style arguments into rsp_info") {
  rsp_info info;
  rsp_initinfo(&info);
  CHECK(rsp_initarg(&info, "-registrar=127.0.0.1:4711") == 1);
  CHECK(rsp_initarg(&info, "-registrar=[::1]:4712") == 1);
  CHECK(rsp_initarg(&info, "-disable-autoconfig") == 1);
  CHECK(rsp_initarg(&info, "-low-latency") == 1);
  CHECK(rsp_initarg(&info, "--verbose") == 0);
  REQUIRE(info.ri_registrars != nullptr);
  REQUIRE(info.ri_registrars->rri_next != nullptr);
  sockaddr_in sin{};
  std::memcpy(&sin, info.ri_registrars->rri_addr, sizeof sin);
  CHECK(sin.sin_family == AF_INET);
  CHECK(ntohs(sin.sin_port) == 4711);
  CHECK(info.ri_registrars->rri_next->rri_addr->sa_family == AF_INET6);
  CHECK(info.ri_disable_autoconfig == 1);
  CHECK(info.ri_profile == RSP_PROFILE_LOW_LATENCY);
  rsp_freeinfo(&info);
  CHECK(info.ri_registrars == nullptr);
}

TEST_CASE("policy names and identifiers map both ways (RSPLIB's names)") {
  CHECK(std::string(rsp_getpolicybytype(RSP_ROUND_ROBIN)) == "RoundRobin");
  CHECK(rsp_getpolicybyname("LeastUsed") == RSP_LEAST_USED);
  CHECK(rsp_getpolicybyname("NoSuchPolicy") == 0);
  CHECK(rsp_getpolicybytype(0x12345678) == nullptr);
}

TEST_CASE("RSPLIB callers rebuilt against rsp/api/rsplib.h get RSPLIB's signatures and errno") {
  Library lib;
  CHECK(rsplib_compat_calls() == 5);
}

TEST_CASE("the C++ layer (rsp/api/socket.hpp) forwards to the C calls and returns errno values") {
  Library lib;
  auto socket = rsp::api::RspSocket::open();
  REQUIRE(socket);
  const int fd = socket->fd();
  CHECK(fd >= 0);
  const std::byte x{'x'};
  auto sent = socket->send(std::span<const std::byte>(&x, 1));
  REQUIRE_FALSE(sent);
  CHECK(sent.error().code == ENOTCONN);
  REQUIRE(socket->set_option(RSP_NONBLOCK, 1));
  auto nonblocking = socket->option<int>(RSP_NONBLOCK);
  REQUIRE(nonblocking);
  CHECK(*nonblocking == 1);
  std::byte buf[8];
  auto received = socket->receive(buf);
  REQUIRE_FALSE(received);
  CHECK(received.error().code == EAGAIN);
  auto registered = socket->register_element(std::string(40, 'p'));
  REQUIRE_FALSE(registered);
  CHECK(registered.error().code == EINVAL);
  auto misnamed = socket->bind("localhost", 1);  // numeric addresses only
  REQUIRE_FALSE(misnamed);
  CHECK(misnamed.error().code == EINVAL);
  CHECK(socket->bind("::1", 0));
  auto unregistered = socket->local_name();
  REQUIRE_FALSE(unregistered);
  CHECK(unregistered.error().code == ENOTCONN);
  auto unconnected = socket->has_cookie();
  REQUIRE_FALSE(unconnected);
  CHECK(unconnected.error().code == ENOTCONN);
  rsp::api::RspSocket moved = std::move(*socket);
  CHECK(moved.fd() == fd);
  moved.close();
  errno = 0;
  CHECK(rsp_has_cookie(fd) == -1);  // closed
  CHECK(errno == EBADF);
}
