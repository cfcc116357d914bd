// The usrsctp backend on real UDP sockets over loopback (RFC 6951 encapsulation).
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdlib>
#include <map>
#include <set>

#include <usrsctp.h>

#include "test_support.hpp"
#include "transport/crc32c.hpp"

using namespace rsp;
using namespace rsp::transport;
using namespace rsp::transport::test;
using namespace std::chrono_literals;

namespace {

EndpointOptions udp_options(bool listen = true) {
  EndpointOptions o;
  o.backend = Backend::Udp;
  o.listen = listen;
  o.parameters = fast_parameters();
  return o;
}

struct Recorder {
  std::vector<ReceivedMessage> messages;
  std::vector<AssociationEvent> events;
  std::vector<SendFailure> failures;
  EndpointHandlers handlers() {
    return {[this](ReceivedMessage&& m) { messages.push_back(std::move(m)); },
            [this](const AssociationEvent& e) { events.push_back(e); },
            [this](SendFailure&& f) { failures.push_back(std::move(f)); }, {}};
  }
  bool saw(AssociationEventKind kind) const {
    for (const auto& e : events)
      if (e.kind == kind) return true;
    return false;
  }
};

std::unique_ptr<Endpoint> open_udp(boost::asio::io_context& io, const EndpointOptions& o) {
  auto r = open_endpoint(io, o);
  REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message));
  return std::move(r).value();
}

}  // namespace

TEST_CASE("udp backend: messages of 1 B to 64 KiB travel both ways with PPID, stream and flags intact") {
  boost::asio::io_context io;
  auto server = open_udp(io, udp_options());
  auto client = open_udp(io, udp_options(false));
  CHECK(server->backend() == Backend::Udp);
  Recorder s, c;
  server->set_handlers(s.handlers());
  client->set_handlers(c.handlers());

  const std::vector<std::size_t> sizes{1, 2, 63, 64, 1000, 1452, 1453, 4096, 9000, 16384, 65535, 65536};
  AssociationId id = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const SendInfo info{static_cast<std::uint32_t>(1000 + i), static_cast<std::uint16_t>(i % 8), i % 2 == 1, {}};
    auto r = client->send_to(loopback(server->local_port()), pattern(sizes[i], i), info);
    REQUIRE(r);
    if (i > 0) CHECK(*r == id);  // the same association is reused
    id = *r;
  }
  REQUIRE(run_until(io, [&] { return s.messages.size() == sizes.size(); }));
  // Ordered messages on one stream arrive in order; check each by its PPID.
  std::map<std::uint32_t, const ReceivedMessage*> by_ppid;
  for (const auto& m : s.messages) by_ppid[m.ppid] = &m;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const auto* m = by_ppid[static_cast<std::uint32_t>(1000 + i)];
    REQUIRE(m != nullptr);
    CHECK(m->payload == pattern(sizes[i], i));
    CHECK(m->stream == i % 8);
    CHECK(m->unordered == (i % 2 == 1));
    CHECK(m->peer.port == client->local_port());
    REQUIRE(m->peer.addresses.size() == 1);
    CHECK(m->peer.addresses[0] == IpAddress::v4(127, 0, 0, 1));
  }
  // And back on the association the server saw.
  const AssociationId server_side = s.messages.front().association;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    REQUIRE(server->send(server_side, pattern(sizes[i], i + 7), SendInfo{static_cast<std::uint32_t>(i), 0, false, {}}));
  }
  REQUIRE(run_until(io, [&] { return c.messages.size() == sizes.size(); }));
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    CHECK(c.messages[i].association == id);
    CHECK(c.messages[i].ppid == i);
    CHECK(c.messages[i].payload == pattern(sizes[i], i + 7));
  }
  CHECK(c.saw(AssociationEventKind::Up));
  CHECK(s.saw(AssociationEventKind::Up));
  auto st = client->status(id);
  REQUIRE(st.has_value());
  CHECK(st->smoothed_rtt.has_value());
  CHECK(st->outbound_streams == 16);
}

TEST_CASE("udp backend: one endpoint serves many associations at once") {
  boost::asio::io_context io;
  auto server = open_udp(io, udp_options());
  std::set<AssociationId> seen;
  std::size_t received = 0;
  server->set_handlers({[&](ReceivedMessage&& m) {
                          ++received;
                          seen.insert(m.association);
                          (void)server->send(m.association, m.payload, SendInfo{m.ppid, m.stream, false, {}});
                        },
                        {}, {}, {}});
  constexpr std::size_t kClients = 40;
  constexpr std::size_t kEach = 5;
  std::vector<std::unique_ptr<Endpoint>> clients;
  std::vector<std::size_t> echoed(kClients, 0);
  for (std::size_t i = 0; i < kClients; ++i) {
    clients.push_back(open_udp(io, udp_options(false)));
    clients.back()->set_handlers({[&echoed, i](ReceivedMessage&& m) {
                                    if (m.ppid == i) ++echoed[i];
                                  },
                                  {}, {}, {}});
    for (std::size_t k = 0; k < kEach; ++k) {
      REQUIRE(clients.back()->send_to(loopback(server->local_port()), pattern(100 + k, i),
                                      SendInfo{static_cast<std::uint32_t>(i), 0, false, {}}));
    }
  }
  REQUIRE(run_until(io, [&] {
    for (auto n : echoed)
      if (n != kEach) return false;
    return true;
  }, 10s));
  CHECK(received == kClients * kEach);
  CHECK(seen.size() == kClients);
  CHECK(server->associations().size() == kClients);
}

TEST_CASE("udp backend: a port-0 endpoint binds the same number for UDP and SCTP") {
  boost::asio::io_context io;
  auto ep = open_udp(io, udp_options());
  const std::uint16_t port = ep->local_port();
  REQUIRE(port != 0);
  // The UDP port is really ours: binding it again fails.
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  CHECK(::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0);
  ::close(fd);
  // And a second endpoint asking for that port is told so.
  auto o = udp_options();
  o.port = port;
  auto again = open_endpoint(io, o);
  REQUIRE_FALSE(again);
  CHECK(again.error().code == TransportErrc::AddressInUse);
}

TEST_CASE("udp backend: an association nobody answers ends in CannotStart and returns the message") {
  boost::asio::io_context io;
  // A port that is certainly closed: bind one, note it, close it.
  auto probe = open_udp(io, udp_options());
  const std::uint16_t dead_port = probe->local_port();
  probe->close();
  auto client = open_udp(io, udp_options(false));
  Recorder c;
  client->set_handlers(c.handlers());
  auto id = client->send_to(loopback(dead_port), pattern(10), SendInfo{5, 0, false, {}});
  REQUIRE(id);
  REQUIRE(run_until(io, [&] { return c.saw(AssociationEventKind::CannotStart); }, 10s));
  REQUIRE(c.failures.size() == 1);
  CHECK(c.failures[0].payload == pattern(10));
  CHECK(c.failures[0].info.ppid == 5);
  CHECK(client->associations().empty());
}

TEST_CASE("udp backend: shutdown completes on both sides, abort is seen as loss on both sides") {
  boost::asio::io_context io;
  auto server = open_udp(io, udp_options());
  auto client = open_udp(io, udp_options(false));
  Recorder s, c;
  server->set_handlers(s.handlers());
  client->set_handlers(c.handlers());

  auto id = client->send_to(loopback(server->local_port()), pattern(32), SendInfo{});
  REQUIRE(id);
  REQUIRE(run_until(io, [&] { return s.messages.size() == 1 && c.saw(AssociationEventKind::Up); }));
  {
    auto r = client->shutdown(*id);
    REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message));
  }
  REQUIRE(run_until(io, [&] {
    return c.saw(AssociationEventKind::ShutdownComplete) && s.saw(AssociationEventKind::ShutdownComplete);
  }));
  CHECK(client->associations().empty());
  CHECK(server->associations().empty());

  s.events.clear();
  c.events.clear();
  auto id2 = client->connect(loopback(server->local_port()));
  REQUIRE(id2);
  REQUIRE(run_until(io, [&] { return s.saw(AssociationEventKind::Up) && c.saw(AssociationEventKind::Up); }));
  REQUIRE(server->abort(s.events.back().association));
  REQUIRE(run_until(io, [&] { return c.saw(AssociationEventKind::Lost) && s.saw(AssociationEventKind::Lost); }));
  CHECK(client->send(*id2, pattern(1), SendInfo{}).error().code == TransportErrc::NoSuchAssociation);
}

TEST_CASE("udp backend: loss of a peer process killed with SIGKILL is detected within seconds") {
  EchoPeer peer(RSP_TRANSPORT_PEER, {"--backend", "udp", "--fast"});
  const std::uint16_t port = peer.port();
  REQUIRE(port != 0);
  boost::asio::io_context io;
  auto client = open_udp(io, udp_options(false));
  Recorder c;
  client->set_handlers(c.handlers());
  auto id = client->send_to(loopback(port), pattern(100), SendInfo{7, 1, false, {}});
  REQUIRE(id);
  REQUIRE(run_until(io, [&] { return c.messages.size() == 1; }));
  CHECK(c.messages[0].payload == pattern(100));
  CHECK(c.messages[0].ppid == 7);

  peer.signal(SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  REQUIRE(run_until(io, [&] { return c.saw(AssociationEventKind::Lost); }, 10s));
  MESSAGE("loss detected after ", std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::steady_clock::now() - killed).count(), " ms");
  CHECK(client->associations().empty());
}

TEST_CASE("udp backend: a frozen peer (SIGSTOP) is lost and unacknowledged messages come back whole") {
  EchoPeer peer(RSP_TRANSPORT_PEER, {"--backend", "udp", "--fast"});
  const std::uint16_t port = peer.port();
  REQUIRE(port != 0);
  boost::asio::io_context io;
  auto client = open_udp(io, udp_options(false));
  Recorder c;
  client->set_handlers(c.handlers());
  auto id = client->send_to(loopback(port), pattern(10), SendInfo{});
  REQUIRE(id);
  REQUIRE(run_until(io, [&] { return c.messages.size() == 1; }));

  peer.signal(SIGSTOP);
  const std::vector<std::size_t> sizes{1, 3000, 65536, 20};
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    REQUIRE(client->send(*id, pattern(sizes[i], i), SendInfo{static_cast<std::uint32_t>(100 + i), 2, false, {}}));
  }
  REQUIRE(run_until(io, [&] { return c.saw(AssociationEventKind::Lost); }, 10s));
  REQUIRE(c.failures.size() == sizes.size());
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    CHECK(c.failures[i].association == *id);
    CHECK(c.failures[i].info.ppid == 100 + i);
    CHECK(c.failures[i].info.stream == 2);
    CHECK(c.failures[i].payload == pattern(sizes[i], i));
  }
}

TEST_CASE("backend selection: explicit option, then RSP_TRANSPORT, then the kernel probe") {
  ::unsetenv("RSP_TRANSPORT");
  CHECK(resolve_backend(Backend::Udp) == Backend::Udp);
  CHECK(resolve_backend(Backend::Kernel) == Backend::Kernel);
  CHECK(resolve_backend(Backend::Automatic) == (kernel_sctp_available() ? Backend::Kernel : Backend::Udp));
  ::setenv("RSP_TRANSPORT", "udp", 1);
  CHECK(resolve_backend(Backend::Automatic) == Backend::Udp);
  CHECK(resolve_backend(Backend::Kernel) == Backend::Kernel);  // the explicit option wins
  ::setenv("RSP_TRANSPORT", "kernel", 1);
  CHECK(resolve_backend(Backend::Automatic) == Backend::Kernel);
  ::setenv("RSP_TRANSPORT", "bogus", 1);
  CHECK(resolve_backend(Backend::Automatic) == (kernel_sctp_available() ? Backend::Kernel : Backend::Udp));
  ::unsetenv("RSP_TRANSPORT");
  CHECK(parse_backend("usrsctp") == Backend::Udp);
  CHECK_FALSE(parse_backend("tcp").has_value());
  CHECK(to_string(Backend::Udp) == "udp");
}

// The SCTP checksum we compute for usrsctp (which runs with CRC32c offloaded to us).

TEST_CASE("udp backend: our crc32c matches the Castagnoli check value and usrsctp's own implementation") {
  CHECK(crc32c("123456789", 9) == 0xe3069283u);
  std::vector<unsigned char> data(4099);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<unsigned char>(i * 7 + 3);
  for (std::size_t n : {0u, 1u, 7u, 8u, 9u, 100u, 4099u}) {
    CHECK(crc32c(data.data(), n) == usrsctp_crc32c(data.data(), n));
  }
}

TEST_CASE("udp backend: an SCTP packet's checksum is stored so that it verifies, and a flipped bit fails it (RFC 4960 §6.8)") {
  std::vector<unsigned char> packet(64);
  for (std::size_t i = 0; i < packet.size(); ++i) packet[i] = static_cast<unsigned char>(i);
  sctp_set_checksum(packet.data(), packet.size());
  CHECK(sctp_checksum_ok(packet.data(), packet.size()));
  packet[40] ^= 0x10;
  CHECK_FALSE(sctp_checksum_ok(packet.data(), packet.size()));
  CHECK_FALSE(sctp_checksum_ok(packet.data(), 11));  // shorter than the common header
}

TEST_CASE("udp backend: a full send buffer says WouldBlock, and on_writable follows once it drains") {
  boost::asio::io_context io;
  auto server = open_udp(io, udp_options());
  auto o = udp_options(false);
  o.send_buffer = 64 * 1024;
  auto client = open_udp(io, o);
  Recorder s;
  server->set_handlers(s.handlers());
  bool writable = false;
  bool up = false;
  client->set_handlers({{}, [&](const AssociationEvent& e) { up = up || e.kind == AssociationEventKind::Up; }, {},
                        [&] { writable = true; }});
  auto id = client->connect(loopback(server->local_port()));
  REQUIRE(id);
  REQUIRE(run_until(io, [&] { return up; }));
  std::size_t accepted = 0;
  TransportResult<void> r;
  while ((r = client->send(*id, pattern(4096, accepted), SendInfo{})).has_value()) {
    ++accepted;
    REQUIRE(accepted < 10000);  // the buffer must fill at some point
  }
  CHECK(r.error().code == TransportErrc::WouldBlock);
  CHECK(accepted >= 8);
  REQUIRE(run_until(io, [&] { return writable; }));
  CHECK(client->send(*id, pattern(4096, accepted), SendInfo{}));
  REQUIRE(run_until(io, [&] { return s.messages.size() == accepted + 1; }));
  for (std::size_t i = 0; i <= accepted; ++i) CHECK(s.messages[i].payload == pattern(4096, i));
}

TEST_CASE("udp backend: a dual-stack endpoint is reached over IPv6 loopback too") {
  boost::asio::io_context io;
  auto server = open_udp(io, udp_options());
  auto client = open_udp(io, udp_options(false));
  Recorder s, c;
  server->set_handlers(s.handlers());
  client->set_handlers(c.handlers());
  TransportAddress v6;
  v6.port = server->local_port();
  std::array<std::uint8_t, 16> loop6{};
  loop6[15] = 1;
  v6.addresses.push_back(IpAddress::v6(loop6));
  auto id = client->send_to(v6, pattern(3000), SendInfo{9, 0, false, {}});
  REQUIRE(id);
  REQUIRE(run_until(io, [&] { return s.messages.size() == 1; }));
  CHECK(s.messages[0].payload == pattern(3000));
  REQUIRE(s.messages[0].peer.addresses.size() == 1);
  CHECK_FALSE(s.messages[0].peer.addresses[0].is_v4());
  REQUIRE(server->send(s.messages[0].association, pattern(5), SendInfo{}));
  REQUIRE(run_until(io, [&] { return c.messages.size() == 1; }));
}

TEST_CASE("udp backend: a peer process restarted on the same port is reported as a Restart") {
  boost::asio::io_context io;
  auto server = open_udp(io, udp_options());
  Recorder s;
  server->set_handlers(s.handlers());
  // A port for the peer: taken from an endpoint that is closed again at once.
  auto probe = open_udp(io, udp_options(false));
  const std::string peer_port = std::to_string(probe->local_port());
  probe->close();
  const std::vector<std::string> args{"--backend", "udp", "--fast", "--port", peer_port, "--to",
                                      "127.0.0.1:" + std::to_string(server->local_port()),
                                      "--sizes", "10", "--await-loss"};
  // Our server only echoes through the test's handler: answer whatever arrives.
  server->set_handlers({[&](ReceivedMessage&& m) {
                          s.messages.push_back(m);
                          (void)server->send(m.association, m.payload, SendInfo{m.ppid, m.stream, false, {}});
                        },
                        [&](const AssociationEvent& e) { s.events.push_back(e); }, {}, {}});
  {
    EchoPeer first(RSP_TRANSPORT_PEER, args, "client");
    REQUIRE(run_until(io, [&] { return s.messages.size() == 1; }));
    first.signal(SIGKILL);  // the association stays up at our end until heartbeats fail
  }
  REQUIRE(s.saw(AssociationEventKind::Up));
  CHECK_FALSE(s.saw(AssociationEventKind::Lost));
  EchoPeer second(RSP_TRANSPORT_PEER, args, "client");
  REQUIRE(run_until(io, [&] { return s.messages.size() == 2; }));
  CHECK(s.saw(AssociationEventKind::Restart));
  CHECK(s.messages[1].peer.port == std::stoi(peer_port));
}
