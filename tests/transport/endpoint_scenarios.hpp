// The Endpoint contract (docs/transport.md), as scenarios that every real backend must pass:
// usrsctp_test.cpp runs them on the usrsctp backend, kernel_test.cpp on lksctp (in the VM).
// Each scenario is given the options of a listening (server) or a client endpoint of its
// backend; waits are bounded by bound() (stretched in the emulated VM).
#pragma once

#include <map>
#include <set>

#include "test_support.hpp"

namespace rsp::transport::test::scenarios {

using namespace std::chrono_literals;

// Endpoint options of the backend under test: listening (a server) or not (a client).
using OptionsFor = EndpointOptions (*)(bool listen);

// Messages of 1 B to 200 KiB (256 KiB is the default max_message_size): the ones above 64 KiB
// arrive in pieces (RFC 6458 §8.1.20 partial delivery) and are reassembled.
inline void messages_travel_both_ways(OptionsFor options) {
  boost::asio::io_context io;
  auto server = open_or_fail(io, options(true));
  auto client = open_or_fail(io, options(false));
  CHECK(server->backend() == options(true).backend);
  Recorder s, c;
  server->set_handlers(s.handlers());
  client->set_handlers(c.handlers());

  const std::vector<std::size_t> sizes{1,     2,     63,    64,    1000,  1452,      1453,
                                       4096,  9000,  16384, 65535, 65536, 65537, 200 * 1024};
  AssociationId id = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const SendInfo info{static_cast<std::uint32_t>(1000 + i), static_cast<std::uint16_t>(i % 8), i % 2 == 1, {}};
    auto r = client->send_to(loopback(server->local_port()), pattern(sizes[i], i), info);
    REQUIRE_MESSAGE(r, (r ? std::string() : r.error().message));
    if (i > 0) CHECK(*r == id);  // the implicitly set up association is reused (RFC 6458 §3.1.4)
    id = *r;
  }
  REQUIRE(run_until(io, [&] { return s.messages.size() == sizes.size(); }, bound(20s)));
  // Check each message by its PPID.
  std::map<std::uint32_t, const ReceivedMessage*> by_ppid;
  for (const auto& m : s.messages) by_ppid[m.ppid] = &m;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const auto* m = by_ppid[static_cast<std::uint32_t>(1000 + i)];
    REQUIRE(m != nullptr);
    CHECK(m->payload == pattern(sizes[i], i));
    CHECK(m->stream == i % 8);
    CHECK(m->unordered == (i % 2 == 1));
    CHECK(m->peer.port == client->local_port());
    CHECK(contains(m->peer, IpAddress::v4(127, 0, 0, 1)));
  }
  // And back on the association the server saw.
  const AssociationId server_side = s.messages.front().association;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    REQUIRE(server->send(server_side, pattern(sizes[i], i + 7), SendInfo{static_cast<std::uint32_t>(i), 3, false, {}}));
  }
  REQUIRE(run_until(io, [&] { return c.messages.size() == sizes.size(); }, bound(20s)));
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    CHECK(c.messages[i].association == id);
    CHECK(c.messages[i].ppid == i);
    CHECK(c.messages[i].stream == 3);
    CHECK(c.messages[i].payload == pattern(sizes[i], i + 7));
  }
  CHECK(c.saw(AssociationEventKind::Up));
  CHECK(s.saw(AssociationEventKind::Up));
  CHECK(client->connect(loopback(server->local_port())).value() == id);  // no second association
  CHECK(client->associations() == std::vector<AssociationId>{id});
  auto st = client->status(id);
  REQUIRE(st.has_value());
  CHECK(st->smoothed_rtt.has_value());
  CHECK(st->outbound_streams == 16);
  CHECK(st->inbound_streams == 16);
  CHECK(st->peer.port == server->local_port());
}

// 40 client endpoints x 5 messages to one server endpoint that echoes each.
inline void one_endpoint_serves_many_associations(OptionsFor options) {
  boost::asio::io_context io;
  auto server = open_or_fail(io, options(true));
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
    clients.push_back(open_or_fail(io, options(false)));
    clients.back()->set_handlers({[&echoed, i](ReceivedMessage&& m) {
                                    if (m.ppid == i) ++echoed[i];
                                  },
                                  {}, {}, {}});
    for (std::size_t k = 0; k < kEach; ++k) {
      auto r = clients.back()->send_to(loopback(server->local_port()), pattern(100 + k, i),
                                       SendInfo{static_cast<std::uint32_t>(i), 0, false, {}});
      REQUIRE_MESSAGE(r, (r ? std::string() : r.error().message));
    }
  }
  REQUIRE(run_until(io, [&] {
    for (auto n : echoed)
      if (n != kEach) return false;
    return true;
  }, bound(30s)));
  CHECK(received == kClients * kEach);
  CHECK(seen.size() == kClients);
  CHECK(server->associations().size() == kClients);
}

// A port nobody listens on: CannotStart, the message back through on_send_failed (with its
// SendInfo, context included), the id dead.
inline void unanswered_association_cannot_start(OptionsFor options) {
  boost::asio::io_context io;
  // A port that is certainly closed: bind one, note it, close it.
  auto probe = open_or_fail(io, options(true));
  const std::uint16_t dead_port = probe->local_port();
  probe->close();
  auto client = open_or_fail(io, options(false));
  Recorder c;
  client->set_handlers(c.handlers());
  auto id = client->send_to(loopback(dead_port), pattern(10), SendInfo{5, 1, false, {}, 0xC0DE0005});
  REQUIRE_MESSAGE(id, (id ? std::string() : id.error().message));
  REQUIRE(run_until(io, [&] { return c.saw(AssociationEventKind::CannotStart) && !c.failures.empty(); }, bound(10s)));
  CHECK(c.events.back().association == *id);
  REQUIRE(c.failures.size() == 1);
  CHECK(c.failures[0].association == *id);
  CHECK(c.failures[0].payload == pattern(10));
  CHECK(c.failures[0].info.ppid == 5);
  CHECK(c.failures[0].info.stream == 1);
  CHECK(c.failures[0].info.context == 0xC0DE0005);
  CHECK(client->associations().empty());
  CHECK(client->send(*id, pattern(1), SendInfo{}).error().code == TransportErrc::NoSuchAssociation);
}

// RFC 4960 §9.2 SHUTDOWN seen as ShutdownComplete on both sides; ABORT as Lost on both sides.
inline void shutdown_and_abort_seen_on_both_sides(OptionsFor options) {
  boost::asio::io_context io;
  auto server = open_or_fail(io, options(true));
  auto client = open_or_fail(io, options(false));
  Recorder s, c;
  server->set_handlers(s.handlers());
  client->set_handlers(c.handlers());

  auto id = client->send_to(loopback(server->local_port()), pattern(32), SendInfo{});
  REQUIRE(id);
  REQUIRE(run_until(io, [&] { return s.messages.size() == 1 && c.saw(AssociationEventKind::Up); }, bound(5s)));
  {
    auto r = client->shutdown(*id);
    REQUIRE_MESSAGE(r.has_value(), (r ? std::string() : r.error().message));
  }
  REQUIRE(run_until(io, [&] {
    return c.saw(AssociationEventKind::ShutdownComplete) && s.saw(AssociationEventKind::ShutdownComplete);
  }, bound(5s)));
  CHECK(client->associations().empty());
  CHECK(server->associations().empty());

  s.events.clear();
  c.events.clear();
  auto id2 = client->connect(loopback(server->local_port()));
  REQUIRE(id2);
  CHECK(*id2 != *id);
  REQUIRE(run_until(io, [&] { return s.saw(AssociationEventKind::Up) && c.saw(AssociationEventKind::Up); }, bound(5s)));
  CHECK(c.events.back().association == *id2);
  CHECK(c.events.back().outbound_streams == 16);
  REQUIRE(server->abort(s.events.back().association));
  REQUIRE(run_until(io, [&] { return c.saw(AssociationEventKind::Lost) && s.saw(AssociationEventKind::Lost); }, bound(5s)));
  CHECK(client->send(*id2, pattern(1), SendInfo{}).error().code == TransportErrc::NoSuchAssociation);
}

// pause_receiving: a paused receiver takes nothing; the stack's window closes and the sender's
// sends end in WouldBlock (RFC 4960 §6.2.1 flow control); resumed, every message arrives, in
// order.
inline void a_paused_receiver_pushes_back_on_its_sender(OptionsFor options) {
  boost::asio::io_context io;
  auto server = open_or_fail(io, options(true));
  auto client = open_or_fail(io, options(false));
  Recorder s, c;
  server->set_handlers(s.handlers());
  client->set_handlers(c.handlers());
  auto id = client->send_to(loopback(server->local_port()), pattern(100), SendInfo{0, 0, false, {}});
  REQUIRE(id);
  REQUIRE(run_until(io, [&] { return s.messages.size() == 1; }, bound(5s)));

  server->pause_receiving(true);
  // 4 KiB messages until a send finds no room even after the io ran for a while. The cap (40 MB)
  // ends a run whose receiver does not push back.
  constexpr std::uint32_t kCap = 10000;
  std::uint32_t sent = 0;
  bool blocked = false;
  while (!blocked && sent < kCap) {
    auto r = client->send(*id, pattern(4096, sent), SendInfo{1 + sent, 0, false, {}});
    if (r) {
      ++sent;
      continue;
    }
    REQUIRE(r.error().code == TransportErrc::WouldBlock);
    run_until(io, [] { return false; }, 100ms);  // the stack moves what the window allows
    auto again = client->send(*id, pattern(4096, sent), SendInfo{1 + sent, 0, false, {}});
    if (again) {
      ++sent;
    } else {
      REQUIRE(again.error().code == TransportErrc::WouldBlock);
      blocked = true;
    }
  }
  CHECK(blocked);
  CHECK(sent > 0);
  CHECK(s.messages.size() == 1);  // nothing delivered while paused

  server->pause_receiving(false);
  REQUIRE(run_until(io, [&] { return s.messages.size() == 1 + sent; }, bound(20s)));
  for (std::uint32_t i = 0; i < sent; ++i) {
    const auto& m = s.messages[1 + i];
    CHECK(m.ppid == 1 + i);
    if (m.payload != pattern(4096, i)) FAIL_CHECK("message " << i << " changed");
  }
  CHECK_FALSE(s.saw(AssociationEventKind::Lost));
}

// docs/transport.md "Thread model": no handler runs inside send_to, send or close, and none
// after close.
inline void handlers_never_run_inside_a_call(OptionsFor options) {
  boost::asio::io_context io;
  auto server = open_or_fail(io, options(true));
  auto client = open_or_fail(io, options(false));
  bool inside = false;
  std::size_t reentered = 0, calls = 0;
  auto watch = [&] {
    ++calls;
    if (inside) ++reentered;
  };
  client->set_handlers({[&](ReceivedMessage&&) { watch(); }, [&](const AssociationEvent&) { watch(); },
                        [&](SendFailure&&) { watch(); }, [&] { watch(); }});
  server->set_handlers({[&](ReceivedMessage&& m) { (void)server->send(m.association, m.payload, SendInfo{}); },
                        {}, {}, {}});
  inside = true;
  auto id = client->send_to(loopback(server->local_port()), pattern(10), SendInfo{});
  inside = false;
  REQUIRE(id);
  REQUIRE(run_until(io, [&] { return calls >= 2; }, bound(5s)));  // Up and the echo
  inside = true;
  REQUIRE(client->send(*id, pattern(10), SendInfo{}));
  client->close();  // no handler after close either
  inside = false;
  const std::size_t before = calls;
  run_until(io, [] { return false; }, 300ms);
  CHECK(reentered == 0);
  CHECK(calls == before);
}

}  // namespace rsp::transport::test::scenarios
