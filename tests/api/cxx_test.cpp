// The C++ layer (rsp/api/socket.hpp) on its success paths, with a real rsp-registrar process and
// the draft's ECHO pool element (examples/echo_pe.c, with -c: a COOKIE after each echo). This
// process is a PE (bound, registered, resolved with its policy values, answering with a COOKIE
// and a BUSINESS_CARD) and a PU (connect, send/receive, rsp_poll with a pipe, names, cookies,
// reported failures, addressed sends), through rsp::api only.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "process.hpp"
#include "rsp/api/socket.hpp"

using namespace std::chrono_literals;
using rsp::api::RspSocket;
using rsp::api::test::Child;
using rsp::api::test::free_port;
using rsp::api::test::registrar_argv;
using Clock = std::chrono::steady_clock;

namespace {

std::string unique_pool(const char* tag) {
  static int counter = 0;
  return std::string(tag) + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

std::span<const std::byte> bytes(std::string_view text) {
  return std::as_bytes(std::span<const char>(text.data(), text.size()));
}

// One registrar process, and this process's library (rsp::api::Library) pointed at it only.
class Setup {
 public:
  Setup()
      : port_(free_port()),
        registrar_(registrar_argv(port_)),
        loopback_(port_) {
    rsp_info info{};
    info.ri_registrars = &loopback_.entry;
    info.ri_disable_autoconfig = 1;
    library_.emplace(&info);
    REQUIRE(library_->ok());
  }

  // An ECHO pool element process (with cookies) of `pool`; returns its PE id.
  std::uint32_t start_echo_pe(const std::string& pool) {
    pes_.push_back(std::make_unique<Child>(
        std::vector<std::string>{ECHO_PE_BIN, "-a", "127.0.0.1", "-h", pool, "-c"},
        std::vector<std::string>{"RSP_REGISTRAR=127.0.0.1:" + std::to_string(port_)}));
    auto line = pes_.back()->wait_for("registered ", 20s);
    REQUIRE_MESSAGE(line, "echo_pe did not register");
    const auto id = static_cast<std::uint32_t>(std::stoul(line->substr(11)));
    by_id_[id] = pes_.back().get();
    return id;
  }
  Child& pe_process(std::uint32_t id) { return *by_id_.at(id); }

 private:
  std::uint16_t port_;
  Child registrar_;
  rsp::api::test::LoopbackRegistrar loopback_;
  std::optional<rsp::api::Library> library_;  // after the registrar: cleaned up before it dies
  std::vector<std::unique_ptr<Child>> pes_;
  std::map<std::uint32_t, Child*> by_id_;
};

// A socket whose receive never blocks: waits below are bounded by rsp::api::poll.
RspSocket open_socket() {
  auto socket = RspSocket::open();
  REQUIRE(socket);
  REQUIRE(socket->set_option(RSP_NONBLOCK, 1));
  return std::move(*socket);
}

struct Message {
  std::string text;
  rsp_sndrcvinfo info{};
};

// The next data message on `socket` (notifications skipped), or nullopt after `timeout`.
std::optional<Message> receive(RspSocket& socket, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    std::array<std::byte, 4096> buffer;
    auto received = socket.receive(buffer);
    if (received && !received->notification()) {
      return Message{std::string(reinterpret_cast<const char*>(buffer.data()), received->size),
                     received->info};
    }
    if (received) continue;
    REQUIRE(received.error().code == EAGAIN);
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return std::nullopt;
    std::array<pollfd, 1> fds{socket.poll_entry()};
    REQUIRE(rsp::api::poll(fds, left));
  }
}

// Sends `text` on a PU socket and returns the PE that echoed it (0: no echo in time).
std::uint32_t echo(RspSocket& pu, const std::string& text) {
  REQUIRE(pu.send(bytes(text)));
  auto reply = receive(pu, 5s);
  REQUIRE_MESSAGE(reply, "no echo for ", text);
  CHECK(reply->text == text);
  return reply->info.rinfo_pe_id;
}

// Waits (bounded) until the PU socket's session holds a COOKIE.
bool wait_for_cookie(RspSocket& pu, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto has = pu.has_cookie();
    REQUIRE(has);
    if (*has) return true;
    if (Clock::now() >= deadline) return false;
    std::array<pollfd, 1> fds{pu.poll_entry()};
    REQUIRE(rsp::api::poll(fds, 10ms));  // a bounded pause; a COOKIE does not wake the socket
  }
}

}  // namespace

TEST_CASE("a PE bound and registered through the C++ layer resolves with its address and policy "
          "values, answers, and its COOKIE and BUSINESS_CARD reach the PU") {
  Setup setup;
  const std::string echo_pool = unique_pool("cxx-echo");
  const std::uint32_t echo_id = setup.start_echo_pe(echo_pool);

  const std::string pool = unique_pool("cxx-pe");
  RspSocket pe = open_socket();
  const std::uint16_t port = free_port();
  REQUIRE(pe.bind("127.0.0.1", port));
  rsp_loadinfo load{};
  load.rli_policy = RSP_LEAST_USED;
  load.rli_load = 0x30000000;
  REQUIRE(pe.register_element(pool, &load));
  auto me = pe.local_name();
  REQUIRE(me);
  CHECK(me->pool == pool);
  REQUIRE(me->pe_id != 0);

  auto info = rsp::api::pool_info(pool, 10);
  REQUIRE(info);
  CHECK(info->pool == pool);
  CHECK(info->policy == RSP_LEAST_USED);
  REQUIRE(info->elements.size() == 1);
  const auto& entry = info->elements.front();
  CHECK(entry.id == me->pe_id);
  CHECK(entry.home_registrar != 0);
  CHECK(entry.registration_life > 0ms);
  CHECK(entry.load.rli_policy == RSP_LEAST_USED);
  CHECK(entry.load.rli_load == 0x30000000);
  CHECK(entry.protocol == IPPROTO_SCTP);
  REQUIRE(entry.addresses.size() == 1);
  sockaddr_in bound{};
  std::memcpy(&bound, &entry.addresses.front(), sizeof bound);
  CHECK(bound.sin_family == AF_INET);
  CHECK(bound.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
  CHECK(ntohs(bound.sin_port) == port);

  // This process as two PUs of its own PE: two sessions, so each answer must name its session.
  RspSocket pu = open_socket();
  RspSocket other_pu = open_socket();
  REQUIRE(pu.connect(pool));
  REQUIRE(other_pu.connect(pool));
  auto no_cookie = pu.has_cookie();
  REQUIRE(no_cookie);
  CHECK_FALSE(*no_cookie);
  REQUIRE(pu.send(bytes("hello")));
  REQUIRE(other_pu.send(bytes("hello too")));
  std::map<std::string, rserpool_session_t> sessions;
  for (int i = 0; i < 2; ++i) {
    auto request = receive(pe, 5s);
    REQUIRE(request);
    sessions[request->text] = request->info.rinfo_session;
  }
  REQUIRE(sessions.count("hello") == 1);
  REQUIRE(sessions.count("hello too") == 1);
  const rserpool_session_t session = sessions["hello"];
  CHECK(session != sessions["hello too"]);
  REQUIRE(pe.send_to_session(sessions["hello too"], bytes("back to the other")));
  // COOKIE and BUSINESS_CARD first: they travel ahead of the answer on the same association.
  REQUIRE(pe.send_cookie(session, bytes("state=1")));
  REQUIRE(pe.send_business_card(session, echo_pool));
  REQUIRE(pe.send_to_session(session, bytes("hello back")));
  auto reply = receive(pu, 5s);
  REQUIRE(reply);
  CHECK(reply->text == "hello back");
  CHECK(reply->info.rinfo_pe_id == me->pe_id);
  auto other_reply = receive(other_pu, 5s);
  REQUIRE(other_reply);
  CHECK(other_reply->text == "back to the other");
  auto peer = pu.peer_name();
  REQUIRE(peer);
  CHECK(peer->pool == pool);
  CHECK(peer->pe_id == me->pe_id);
  CHECK(wait_for_cookie(pu, 2s));

  // RFC 5352 §3.10: the business card sends the failover to the echo pool, and the COOKIE goes
  // with it (§3.9: echo_pe prints the COOKIE_ECHO it gets).
  REQUIRE(pu.force_failover());
  CHECK(echo(pu, "after the card") == echo_id);
  auto replayed = setup.pe_process(echo_id).wait_for("cookie-echo ", 5s);
  REQUIRE(replayed);
  CHECK(replayed->find(" state=1") != std::string::npos);
}

TEST_CASE("a PU RspSocket polls with a pipe, echoes, keeps the PE's COOKIE, and reported failures "
          "move it and other sockets to another PE") {
  Setup setup;
  const std::string pool = unique_pool("cxx-pu");
  const std::uint32_t a = setup.start_echo_pe(pool);
  const std::uint32_t b = setup.start_echo_pe(pool);
  auto other_than = [&](std::uint32_t id) { return id == a ? b : a; };

  RspSocket pu = open_socket();
  REQUIRE(pu.connect(pool));
  int pipe_fds[2];
  REQUIRE(::pipe2(pipe_fds, O_CLOEXEC) == 0);
  std::array<pollfd, 2> fds{pu.poll_entry(), pollfd{pipe_fds[0], POLLIN, 0}};
  auto ready = rsp::api::poll(fds, 50ms);  // nothing to read yet: times out
  REQUIRE(ready);
  CHECK(*ready == 0);
  REQUIRE(::write(pipe_fds[1], "x", 1) == 1);
  ready = rsp::api::poll(fds, 5s);
  REQUIRE(ready);
  CHECK(*ready == 1);
  CHECK(fds[0].revents == 0);
  CHECK((fds[1].revents & POLLIN) != 0);
  char drained = 0;
  REQUIRE(::read(pipe_fds[0], &drained, 1) == 1);
  REQUIRE(pu.send(bytes("ping")));
  ready = rsp::api::poll(fds, 5s);
  REQUIRE(ready);
  CHECK(*ready == 1);
  CHECK((fds[0].revents & POLLIN) != 0);
  CHECK(fds[1].revents == 0);
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  auto reply = receive(pu, 5s);
  REQUIRE(reply);
  CHECK(reply->text == "ping");
  const std::uint32_t first = reply->info.rinfo_pe_id;
  REQUIRE((first == a || first == b));
  auto peer = pu.peer_name();
  REQUIRE(peer);
  CHECK(peer->pool == pool);
  CHECK(peer->pe_id == first);
  CHECK(wait_for_cookie(pu, 2s));  // echo_pe -c: "echoes=1" after the echo

  // RFC 5352 §3.5 by pool and PE: `first` is a last resort for every socket of this process, so
  // new sessions all go to the other PE (round robin alone would alternate).
  REQUIRE(rsp::api::report_failure(pool, first));
  RspSocket second_pu = open_socket();
  RspSocket third_pu = open_socket();
  REQUIRE(second_pu.connect(pool));
  REQUIRE(third_pu.connect(pool));
  CHECK(echo(second_pu, "second") == other_than(first));
  CHECK(echo(third_pu, "third") == other_than(first));

  // The session's own PE reported: `pu` fails over, replaying its COOKIE.
  REQUIRE(pu.report_failure());
  CHECK(echo(pu, "after the report") == other_than(first));
  peer = pu.peer_name();
  REQUIRE(peer);
  CHECK(peer->pe_id == other_than(first));
  auto replayed = setup.pe_process(other_than(first)).wait_for("cookie-echo ", 5s);
  REQUIRE(replayed);
  CHECK(replayed->find(" echoes=1") != std::string::npos);

  // Addressed sends (draft §2.1-2.2): a named PE is asked even when reported; a pool by its
  // handle on a socket that never connected.
  REQUIRE(second_pu.send_to_pe(first, bytes("to first")));
  reply = receive(second_pu, 5s);
  REQUIRE(reply);
  CHECK(reply->text == "to first");
  CHECK(reply->info.rinfo_pe_id == first);
  RspSocket by_pool = open_socket();
  REQUIRE(by_pool.send_to_pool(pool, bytes("by pool")));
  reply = receive(by_pool, 5s);
  REQUIRE(reply);
  CHECK(reply->text == "by pool");
  CHECK(reply->info.rinfo_pe_id == other_than(first));
}
