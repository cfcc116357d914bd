// The RSPLIB forms of the API (rsp_rsplib(3)) on their success paths, with a real rsp-registrar
// process: rsp_sendmsg_rsplib/rsp_recvmsg_rsplib against the ECHO pool element
// (examples/echo_pe.c), rsp_register_rsplib with its re-registration interval,
// rsp_pe_registration/rsp_pe_deregistration with a registration life, and rsp_pe_failure up to
// the registrar's MAX-BAD-PE-REPORT (RFC 5352 §3.5). Resolutions that must see the registrar's
// current state use rsp_getaddrinfo with a stale cache value of 0 (asks the registrar).
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#if __has_include(<netinet/sctp.h>)
#include <netinet/sctp.h>
#endif

#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "process.hpp"
#include "rsp/rsp.h"

#ifndef SCTP_UNORDERED
#define SCTP_UNORDERED 1  // lksctp's value, what RSPLIB callers on Linux pass
#endif

using namespace std::chrono_literals;
using rsp::api::test::Child;
using rsp::api::test::free_port;
using rsp::api::test::registrar_argv;
using Clock = std::chrono::steady_clock;

namespace {

std::string unique_pool(const char* tag) {
  static int counter = 0;
  return std::string(tag) + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

// One registrar process, and this process's rsp_* library pointed at it only.
class Setup {
 public:
  explicit Setup(const char* tag)
      : pool(unique_pool(tag)),
        port_(free_port()),
        registrar_(registrar_argv(port_)),
        loopback_(port_) {
    rsp_info info{};
    info.ri_registrars = &loopback_.entry;
    info.ri_disable_autoconfig = 1;
    REQUIRE(rsp_initialize(&info) == 0);
  }
  ~Setup() { rsp_cleanup(); }

  std::string registrars() const { return "127.0.0.1:" + std::to_string(port_); }
  const unsigned char* handle() const { return reinterpret_cast<const unsigned char*>(pool.data()); }

  // An ECHO pool element process of the pool; returns its PE id.
  std::uint32_t start_echo_pe() {
    pes_.push_back(std::make_unique<Child>(
        std::vector<std::string>{ECHO_PE_BIN, "-a", "127.0.0.1", "-h", pool},
        std::vector<std::string>{"RSP_REGISTRAR=" + registrars()}));
    auto line = pes_.back()->wait_for("registered ", 20s);
    REQUIRE_MESSAGE(line, "echo_pe did not register");
    return static_cast<std::uint32_t>(std::stoul(line->substr(11)));
  }

  // The PE ids the registrar lists now (RSPLIB: stale cache value 0 asks it); empty when it
  // knows no PE of the pool.
  std::vector<std::uint32_t> listed() const {
    rsp_addrinfo* ai = nullptr;
    const int n = rsp_getaddrinfo(handle(), pool.size(), &ai, 10, 0);
    std::vector<std::uint32_t> ids;
    if (n == REAI_NONAME) return ids;
    REQUIRE(n > 0);
    for (rsp_addrinfo* a = ai; a != nullptr; a = a->ai_next) ids.push_back(a->ai_pe_id);
    CHECK(ids.size() == static_cast<std::size_t>(n));
    rsp_freeaddrinfo(ai);
    return ids;
  }

  // The registrar's entry for PE `id` (rsp_getpoolinfo), or nullopt.
  std::optional<rsp_peinfo> entry(std::uint32_t id) const {
    rsp_poolinfo* info = nullptr;
    if (rsp_getpoolinfo(-1, handle(), pool.size(), 10, &info) <= 0) return std::nullopt;
    std::optional<rsp_peinfo> found;
    for (rsp_peinfo* e = info->pi_first; e != nullptr; e = e->pi_next) {
      if (e->pi_pe_id == id) found = *e;
    }
    rsp_freepoolinfo(info);
    if (found) found->pi_addr = nullptr;  // freed with the list
    return found;
  }

  const std::string pool;

 private:
  std::uint16_t port_;
  Child registrar_;
  rsp::api::test::LoopbackRegistrar loopback_;
  std::vector<std::unique_ptr<Child>> pes_;
};

struct Received {
  std::string data;
  rsp_sndrcvinfo info{};
  int flags = 0;
};

// The next data message on fd through rsp_recvmsg_rsplib (notifications skipped), waiting at
// most `timeout` in all.
std::optional<Received> receive_data(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    char buf[1024];
    Received r;
    const ssize_t n =
        rsp_recvmsg_rsplib(fd, buf, sizeof buf, &r.info, &r.flags, static_cast<int>(left.count()));
    if (n < 0) {
      REQUIRE(errno == EAGAIN);
      return std::nullopt;
    }
    if ((r.flags & MSG_RSERPOOL_NOTIFICATION) != 0) continue;
    r.data.assign(buf, static_cast<std::size_t>(n));
    return r;
  }
}

}  // namespace

TEST_CASE("rsp_sendmsg_rsplib and rsp_recvmsg_rsplib exchange echoes; PPID, stream and SCTP_UNORDERED are kept") {
  Setup setup("rsplib-echo");
  const std::uint32_t pe = setup.start_echo_pe();
  const int fd = rsp_socket(AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP);
  REQUIRE(fd >= 0);
  REQUIRE(rsp_connect_rsplib(fd, setup.handle(), setup.pool.size(), 0) == 0);
  const timeval five{5, 0};  // bounds the draft-form rsp_recvmsg below
  REQUIRE(rsp_setsockopt(fd, SOL_RSERPOOL, RSP_RCVTIMEO, &five, sizeof five) == 0);

  const std::string ordered = "ordered";
  // RSPLIB's PPIDs are in network byte order (it hands them to sctp_sendmsg(3) as they are).
  REQUIRE(rsp_sendmsg_rsplib(fd, ordered.data(), ordered.size(), 0, 0, htonl(1234), 3, 0, 0, -1) ==
          static_cast<ssize_t>(ordered.size()));
  auto echo = receive_data(fd, 5s);
  REQUIRE(echo);
  CHECK(echo->data == ordered);
  CHECK(echo->info.rinfo_ppid == htonl(1234));
  CHECK(echo->info.rinfo_stream == 3);
  CHECK(echo->info.rinfo_pe_id == pe);
  CHECK((echo->info.rinfo_flags & RSP_UNORDERED) == 0);

  // The PE receives it unordered and echoes it with the flags it received (echo_pe.c). With a
  // time to live (PR-SCTP) it is still delivered on a healthy association.
  const std::string unordered = "unordered";
  REQUIRE(rsp_sendmsg_rsplib(fd, unordered.data(), unordered.size(), 0, 0, htonl(99), 1, 5000,
                             SCTP_UNORDERED, 1000) == static_cast<ssize_t>(unordered.size()));
  // Read with the draft's form, which gives the PPID in host byte order: 99 went on the wire
  // and came back (echo_pe, on the draft's API, echoes the PPID it got).
  char buf[64];
  rsp_sndrcvinfo draft{};
  int draft_flags = 0;
  ssize_t n = 0;
  do {
    n = rsp_recvmsg(fd, buf, sizeof buf, &draft, &draft_flags);
  } while (n > 0 && (draft_flags & MSG_RSERPOOL_NOTIFICATION) != 0);
  REQUIRE(n == static_cast<ssize_t>(unordered.size()));
  echo = Received{std::string(buf, static_cast<std::size_t>(n)), draft, draft_flags};
  CHECK(echo->data == unordered);
  CHECK(echo->info.rinfo_ppid == 99);
  CHECK(echo->info.rinfo_stream == 1);
  CHECK((echo->info.rinfo_flags & RSP_UNORDERED) != 0);
  rsp_close(fd);
}

TEST_CASE("rsp_register_rsplib: the PE resolves with its policy, a life of 3 x its re-registration interval, and stays past it") {
  Setup setup("rsplib-register");
  const int fd = rsp_socket(AF_INET, SOCK_SEQPACKET, IPPROTO_SCTP);
  REQUIRE(fd >= 0);
  rsp_loadinfo load{};
  load.rli_policy = RSP_WEIGHTED_ROUND_ROBIN;
  load.rli_weight = 7;
  constexpr unsigned kInterval = 400;  // ms
  REQUIRE(rsp_register_rsplib(fd, setup.handle(), setup.pool.size(), &load, kInterval, 0) == 0);
  std::uint32_t id = 0;
  REQUIRE(rsp_getsockname(fd, nullptr, nullptr, &id) == 0);

  CHECK(setup.listed() == std::vector<std::uint32_t>{id});
  const auto entry = setup.entry(id);
  REQUIRE(entry);
  CHECK(entry->pi_loadinfo.rli_policy == RSP_WEIGHTED_ROUND_ROBIN);
  CHECK(entry->pi_loadinfo.rli_weight == 7);
  CHECK(entry->pi_protocol == IPPROTO_SCTP);
  CHECK(entry->pi_registration_life_ms == 3 * kInterval);

  // Re-registered every 400 ms, it outlives its 1.2 s life at the registrar.
  const auto until = Clock::now() + 3 * std::chrono::milliseconds(kInterval) + 600ms;
  while (Clock::now() < until) {
    REQUIRE(setup.listed() == std::vector<std::uint32_t>{id});
    pollfd p{fd, 0, 0};
    rsp_poll(&p, 1, 100);  // a bounded pause between resolutions, not the check
  }

  REQUIRE(rsp_deregister_rsplib(fd, 0) == 0);
  CHECK(setup.listed().empty());
  rsp_close(fd);
}

TEST_CASE("rsp_pe_registration registers a service with its registration life; rsp_pe_deregistration removes it") {
  Setup setup("rsplib-sidecar");
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sin.sin_port = htons(7777);
  rsp_addrinfo ai{};
  ai.ai_family = AF_INET;
  ai.ai_socktype = SOCK_STREAM;
  ai.ai_protocol = IPPROTO_TCP;
  ai.ai_addrlen = sizeof sin;
  ai.ai_addrs = 1;
  ai.ai_addr = reinterpret_cast<sockaddr*>(&sin);
  rsp_loadinfo load{};
  load.rli_policy = RSP_LEAST_USED;
  load.rli_load = RSP_LOAD_MAX / 4;
  const unsigned id = rsp_pe_registration(setup.handle(), setup.pool.size(), &ai, &load, 4321, 0);
  REQUIRE(id != 0);
  CHECK(ai.ai_pe_id == id);

  rsp_addrinfo* found = nullptr;
  REQUIRE(rsp_getaddrinfo(setup.handle(), setup.pool.size(), &found, 10, 0) == 1);
  CHECK(found->ai_pe_id == id);
  CHECK(found->ai_protocol == IPPROTO_TCP);
  CHECK(found->ai_socktype == SOCK_STREAM);
  REQUIRE(found->ai_addrs == 1);
  sockaddr_in got{};
  std::memcpy(&got, found->ai_addr, sizeof got);
  CHECK(ntohs(got.sin_port) == 7777);
  CHECK(ntohl(got.sin_addr.s_addr) == INADDR_LOOPBACK);
  rsp_freeaddrinfo(found);
  const auto entry = setup.entry(id);
  REQUIRE(entry);
  CHECK(entry->pi_registration_life_ms == 4321);
  CHECK(entry->pi_loadinfo.rli_policy == RSP_LEAST_USED);
  CHECK(entry->pi_loadinfo.rli_load == RSP_LOAD_MAX / 4);

  CHECK(rsp_pe_deregistration(setup.handle(), setup.pool.size(), id, 0) == 0);
  CHECK(setup.listed().empty());
  // Deregistered: the registration is gone from the library too.
  CHECK(rsp_pe_deregistration(setup.handle(), setup.pool.size(), id, 0) == ENOENT);
}

TEST_CASE("rsp_pe_failure reports reach the registrar: the PE is removed at MAX-BAD-PE-REPORT (RFC 5352 §3.5)") {
  Setup setup("rsplib-failure");
  const std::uint32_t pe = setup.start_echo_pe();
  // Also brings the library's registrar association up, which the reports travel on.
  REQUIRE(setup.listed() == std::vector<std::uint32_t>{pe});
  // rsp-registrar's default MAX-BAD-PE-REPORT is RFC 5352 §5.2's 3.
  CHECK(rsp_pe_failure(setup.handle(), setup.pool.size(), pe) == 0);
  CHECK(rsp_pe_failure(setup.handle(), setup.pool.size(), pe) == 0);
  CHECK(setup.listed() == std::vector<std::uint32_t>{pe});
  CHECK(rsp_pe_failure(setup.handle(), setup.pool.size(), pe) == 0);
  std::vector<std::uint32_t> now = setup.listed();
  const auto deadline = Clock::now() + 5s;
  while (!now.empty() && Clock::now() < deadline) {
    rsp_poll(nullptr, 0, 50);  // a bounded pause between resolutions, not the check
    now = setup.listed();
  }
  CHECK(now.empty());
}
