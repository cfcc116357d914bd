// The usrsctp backend on real UDP sockets over loopback (RFC 6951 encapsulation).
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <usrsctp.h>

#include "endpoint_scenarios.hpp"
#include "rsp/transport/loop_trace.hpp"
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

EndpointOptions busy_polling_options(bool listen = true) {
  auto o = udp_options(listen);
  o.busy_poll = 200us;
  return o;
}

}  // namespace

// The Endpoint contract every real backend passes (endpoint_scenarios.hpp; kernel_test.cpp runs
// the same scenarios on lksctp).

TEST_CASE("udp backend: messages of 1 B to 200 KiB travel both ways with PPID, stream and flags intact") {
  scenarios::messages_travel_both_ways(udp_options);
}

TEST_CASE("udp backend: one endpoint serves many associations at once") {
  scenarios::one_endpoint_serves_many_associations(udp_options);
}

TEST_CASE("udp backend: an association nobody answers ends in CannotStart and returns the message") {
  scenarios::unanswered_association_cannot_start(udp_options);
}

TEST_CASE("udp backend: shutdown completes on both sides, abort is seen as loss on both sides") {
  scenarios::shutdown_and_abort_seen_on_both_sides(udp_options);
}

TEST_CASE("udp backend: handlers never run inside the caller's send, connect or close") {
  scenarios::handlers_never_run_inside_a_call(udp_options);
}

TEST_CASE("udp backend: a paused receiver pushes back on its sender; resumed, everything arrives in order") {
  scenarios::a_paused_receiver_pushes_back_on_its_sender(udp_options);
}

TEST_CASE("udp backend: a port-0 endpoint binds the same number for UDP and SCTP") {
  boost::asio::io_context io;
  auto ep = open_or_fail(io, udp_options());
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

TEST_CASE("udp backend: loss of a peer process killed with SIGKILL is detected within seconds") {
  EchoPeer peer(RSP_TRANSPORT_PEER, {"--backend", "udp", "--fast"});
  AssociationWithPeer a(peer, udp_options(false), pattern(100), SendInfo{7, 1, false, {}});
  CHECK(a.c.messages[0].payload == pattern(100));
  CHECK(a.c.messages[0].ppid == 7);

  peer.signal(SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  REQUIRE(run_until(a.io, [&] { return a.c.saw(AssociationEventKind::Lost); }, 10s));
  MESSAGE("loss detected after ", std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::steady_clock::now() - killed).count(), " ms");
  CHECK(a.client->associations().empty());
}

TEST_CASE("udp backend: a frozen peer (SIGSTOP) is lost and unacknowledged messages come back whole, with their send context") {
  EchoPeer peer(RSP_TRANSPORT_PEER, {"--backend", "udp", "--fast"});
  AssociationWithPeer a(peer, udp_options(false), pattern(10));

  peer.signal(SIGSTOP);
  const std::vector<std::size_t> sizes{1, 3000, 65536, 20};
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    REQUIRE(a.client->send(a.id, pattern(sizes[i], i),
                           SendInfo{static_cast<std::uint32_t>(100 + i), 2, false, {}, static_cast<std::uint32_t>(0xC0DE0000 + i)}));
  }
  REQUIRE(run_until(a.io, [&] { return a.c.saw(AssociationEventKind::Lost); }, 10s));
  REQUIRE(a.c.failures.size() == sizes.size());
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    CHECK(a.c.failures[i].association == a.id);
    CHECK(a.c.failures[i].info.ppid == 100 + i);
    CHECK(a.c.failures[i].info.stream == 2);
    CHECK(a.c.failures[i].info.context == 0xC0DE0000 + i);  // also for the fragmented 65536 B one
    CHECK(a.c.failures[i].payload == pattern(sizes[i], i));
  }
}

namespace {

// Bytes waiting in the receive queue of the UDP socket bound to `port` (/proc/net/udp and udp6:
// the rx_queue column, in the kernel's accounting), i.e. datagrams its owner has not read yet.
std::size_t udp_bytes_waiting(std::uint16_t port) {
  std::size_t total = 0;
  for (const char* file : {"/proc/net/udp", "/proc/net/udp6"}) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues;
      fields >> slot >> local >> remote >> state >> queues;  // queues: tx_queue:rx_queue (hex)
      const auto colon = local.rfind(':');
      const auto sep = queues.find(':');
      if (colon == std::string::npos || sep == std::string::npos) continue;
      if (std::stoul(local.substr(colon + 1), nullptr, 16) != port) continue;
      total += std::stoul(queues.substr(sep + 1), nullptr, 16);
    }
  }
  return total;
}

}  // namespace

TEST_CASE("udp backend: held output leaves on hold_output(false), at the io's next turn, or before close's ABORT") {
  // What leaves is seen in the peer's UDP receive queue while the peer is frozen (SIGSTOP):
  // nothing comes back meanwhile, and its delayed SACKs cannot blur the picture.
  EchoPeer peer(RSP_TRANSPORT_PEER, {"--backend", "udp"});
  const std::uint16_t peer_port = peer.port();
  REQUIRE(peer_port != 0);
  boost::asio::io_context io;
  auto o = udp_options(false);
  o.parameters = {};  // default timers: no heartbeat goes out meanwhile
  auto client = open_or_fail(io, o);
  Recorder c;
  client->set_handlers(c.handlers());
  auto id = client->send_to(loopback(peer_port), pattern(10), SendInfo{});
  REQUIRE(id);
  REQUIRE(run_until(io, [&] { return c.messages.size() == 1; }, bound(10s)));
  run_until(io, [] { return false; }, 300ms);  // the association settles (SACKs both ways)

  // Held: three sends leave nothing in the frozen peer's queue; the caller's release sends them
  // (one sendmmsg) before it returns.
  peer.signal(SIGSTOP);
  std::size_t before = udp_bytes_waiting(peer_port);
  client->hold_output(true);
  for (std::size_t i = 1; i <= 3; ++i) REQUIRE(client->send(*id, pattern(100 + i, i), SendInfo{}));
  std::this_thread::sleep_for(50ms);
  CHECK(udp_bytes_waiting(peer_port) == before);
  client->hold_output(false);
  CHECK(udp_bytes_waiting(peer_port) > before);
  peer.signal(SIGCONT);
  REQUIRE(run_until(io, [&] { return c.messages.size() == 4; }, bound(5s)));
  for (std::size_t i = 1; i <= 3; ++i) CHECK(c.messages[i].payload == pattern(100 + i, i));
  run_until(io, [] { return false; }, 300ms);

  // Held and never released by the caller: the io's next turn (the release the hold posted)
  // sends it.
  peer.signal(SIGSTOP);
  before = udp_bytes_waiting(peer_port);
  client->hold_output(true);
  REQUIRE(client->send(*id, pattern(200, 4), SendInfo{}));
  std::this_thread::sleep_for(50ms);
  CHECK(udp_bytes_waiting(peer_port) == before);
  io.poll();
  CHECK(udp_bytes_waiting(peer_port) > before);
  peer.signal(SIGCONT);
  REQUIRE(run_until(io, [&] { return c.messages.size() == 5; }, bound(5s)));
  CHECK(c.messages[4].payload == pattern(200, 4));
  run_until(io, [] { return false; }, 300ms);

  // Held, then closed: the held DATA leaves before the ABORT. A 4000-byte message's packets
  // (the initial window takes them all) count for more than 4000 bytes in the peer's queue,
  // an ABORT alone for about 1000.
  peer.signal(SIGSTOP);
  before = udp_bytes_waiting(peer_port);
  client->hold_output(true);
  REQUIRE(client->send(*id, pattern(4000, 5), SendInfo{}));
  client->close();
  const std::size_t after = udp_bytes_waiting(peer_port);
  MESSAGE("peer's receive queue: ", before, " -> ", after, " bytes");
  CHECK(after > before + 4000);
  peer.signal(SIGCONT);
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
  std::vector<unsigned char> data(9000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<unsigned char>(i * 7 + 3 + (i >> 9));
  // Around the three-lane cut (768 bytes a round) and its multiples, and jumbo sizes.
  for (std::size_t n : {0u, 1u, 7u, 8u, 9u, 100u, 767u, 768u, 769u, 775u, 1536u, 1543u, 4099u, 4124u, 9000u}) {
    CHECK_MESSAGE(crc32c(data.data(), n) == usrsctp_crc32c(data.data(), n), n, " bytes");
  }
  // Unaligned starts.
  for (std::size_t off : {1u, 3u, 5u}) {
    CHECK(crc32c(data.data() + off, 4096) == usrsctp_crc32c(data.data() + off, 4096));
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
  auto server = open_or_fail(io, udp_options());
  auto o = udp_options(false);
  o.send_buffer = 64 * 1024;
  auto client = open_or_fail(io, o);
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
  auto server = open_or_fail(io, udp_options());
  auto client = open_or_fail(io, udp_options(false));
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
  auto server = open_or_fail(io, udp_options());
  Recorder s;
  server->set_handlers(s.handlers());
  // A port for the peer: taken from an endpoint that is closed again at once.
  auto probe = open_or_fail(io, udp_options(false));
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

// Busy polling (EndpointOptions::busy_poll): the endpoint keeps reading its socket after a
// wake-up before it blocks, yields to other work after a while; nothing else changes.
TEST_CASE("udp backend: with busy polling the endpoint contract holds") {
  scenarios::messages_travel_both_ways(busy_polling_options);
  scenarios::one_endpoint_serves_many_associations(busy_polling_options);
  scenarios::shutdown_and_abort_seen_on_both_sides(busy_polling_options);
  scenarios::handlers_never_run_inside_a_call(busy_polling_options);
}

TEST_CASE("udp backend: the loop trace records wake-ups with kernel arrival times, SCTP ticks, and the busy-poll spin") {
  loop_trace::enable();
  loop_trace::clear();
  const auto start = loop_trace::now_ns();
  boost::asio::io_context io;
  auto server_options = udp_options(true);
  server_options.busy_poll = 20ms;
  auto server = open_or_fail(io, server_options);
  auto client = open_or_fail(io, udp_options(false));
  Recorder s, c;
  server->set_handlers(s.handlers());
  client->set_handlers(c.handlers());
  REQUIRE(client->send_to(loopback(server->local_port()), pattern(100), SendInfo{1, 0, false, {}}));
  REQUIRE(run_until(io, [&] { return s.messages.size() == 1; }, bound(5s)));
  // Let a few SCTP ticks (10 ms) pass.
  const auto until = std::chrono::steady_clock::now() + 50ms;
  run_until(io, [&] { return std::chrono::steady_clock::now() >= until; }, bound(5s));
  std::size_t wakeups = 0, ticks = 0, spun = 0;
  for (const auto& r : loop_trace::records()) {
    CHECK(r.t_ns >= start);
    CHECK(r.dur_ns >= 0);
    if (r.kind == loop_trace::Kind::SctpTick) ++ticks;
    if (r.kind != loop_trace::Kind::Wakeup || r.count == 0) continue;
    ++wakeups;
    // The kernel stamped each datagram before the loop read it.
    CHECK(r.rx_ns >= start);
    CHECK(r.rx_ns <= r.t_ns + r.dur_ns);
    // The server's wake-ups spin at least busy_poll after their last datagram (by construction,
    // not a timing assumption): some wake-up lasted that long.
    if (r.dur_ns >= 20'000'000) ++spun;
  }
  CHECK(wakeups >= 2);  // at least the INIT and the DATA on the server, replies on the client
  CHECK(ticks >= 1);
  CHECK(spun >= 1);
  loop_trace::disable();
  loop_trace::clear();
}
