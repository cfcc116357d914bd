// Pool element registration life cycle against a fake registrar on the in-memory network, with
// simulated time (RFC 5352 §3.1, §3.2, §3.6, §3.7).
#include <doctest/doctest.h>

#include "asap_test_support.hpp"

namespace rsp::asap::test {
namespace {

using namespace std::chrono_literals;

PoolElementOptions echo_options(std::uint32_t load = 0) {
  PoolElementOptions o;
  o.pool_handle = PoolHandle("EchoPool");
  o.policy.type = PolicyType::LeastUsed;
  o.policy.load = load;
  return o;
}

struct PeFixture {
  Net net;
  FakeRegistrar r1{net, 3863, 0x1111};
  FakeRegistrar r2{net, 3864, 0x2222};
  std::unique_ptr<Context> ctx = net.context({3863, 3864});
  Recorder<PoolElementEvent> events;

  std::unique_ptr<PoolElement> make(PoolElementOptions o = echo_options()) {
    PoolElementHandlers h;
    h.on_event = events.handler();
    auto pe = PoolElement::create(*ctx, std::move(o), std::move(h));
    REQUIRE(pe.has_value());
    return std::move(*pe);
  }
};

TEST_CASE("a pool element registers its data endpoint with policy and values (RFC 5352 §3.1)") {
  PeFixture f;
  auto pe = f.make(echo_options(0x40000000));
  f.net.drain();
  REQUIRE(f.r1.registrations.size() == 1);
  const auto& reg = f.r1.registrations[0];
  CHECK(reg.pool_handle == PoolHandle("EchoPool"));
  CHECK(reg.pool_element.id == pe->id());
  CHECK(reg.pool_element.id != 0);
  CHECK(reg.pool_element.policy.type == PolicyType::LeastUsed);
  CHECK(reg.pool_element.policy.load == 0x40000000u);
  CHECK(reg.pool_element.registration_life == 10s);
  CHECK(reg.pool_element.user_transport.protocol == TransportProtocol::Sctp);
  CHECK(reg.pool_element.user_transport.use == TransportUse::DataPlusControl);
  CHECK(reg.pool_element.user_transport.port == pe->data_endpoint()->local_port());
  REQUIRE(reg.pool_element.asap_transport.has_value());
  CHECK(f.r2.registrations.empty());
  CHECK(pe->registered());
  CHECK(f.events.count(PoolElementEventKind::RegistrarFound) == 1);
  CHECK(f.events.count(PoolElementEventKind::Registered) == 1);
  CHECK(pe->status().registrations == 1);
}

TEST_CASE("an external user transport is registered as given, without a data endpoint (sidecar)") {
  PeFixture f;
  auto o = echo_options();
  TransportAddress tcp;
  tcp.protocol = TransportProtocol::Tcp;
  tcp.port = 8080;
  tcp.addresses.push_back(IpAddress::v4(10, 0, 0, 7));
  o.user_transport = tcp;
  auto pe = f.make(o);
  f.net.drain();
  REQUIRE(f.r1.registrations.size() == 1);
  CHECK(f.r1.registrations[0].pool_element.user_transport == tcp);
  CHECK(pe->data_endpoint() == nullptr);
  CHECK(pe->send(1, bytes("x")).error().code == AsapErrc::InvalidArgument);
}

TEST_CASE("re-registration happens every T4-reregistration interval, not before") {
  PeFixture f;
  auto pe = f.make();
  f.net.drain();
  REQUIRE(f.r1.registrations.size() == 1);
  f.net.advance(3999ms);
  CHECK(f.r1.registrations.size() == 1);
  f.net.advance(1ms);
  CHECK(f.r1.registrations.size() == 2);
  CHECK(f.events.count(PoolElementEventKind::Reregistered) == 1);
  f.net.advance(4s);
  CHECK(f.r1.registrations.size() == 3);
  CHECK(pe->status().registrations == 3);
}

TEST_CASE("the default re-registration interval follows RFC 5352 §5.1 T4") {
  Timers t;
  t.registration_lifetime = std::chrono::minutes(30);
  CHECK(t.effective_reregistration_interval() == std::chrono::minutes(10));
  t.registration_lifetime = std::chrono::minutes(5);
  CHECK(t.effective_reregistration_interval() == std::chrono::seconds(280));
  t.registration_lifetime = std::chrono::seconds(10);  // too short for "20 s less": half of it
  CHECK(t.effective_reregistration_interval() == std::chrono::seconds(5));
}

TEST_CASE("ENDPOINT_KEEP_ALIVE is answered with ENDPOINT_KEEP_ALIVE_ACK (RFC 5352 §3.7)") {
  PeFixture f;
  auto pe = f.make();
  f.net.drain();
  f.r1.send_keep_alive(PoolHandle("EchoPool"), pe->id(), false);
  f.net.drain();
  REQUIRE(f.r1.keep_alive_acks.size() == 1);
  CHECK(f.r1.keep_alive_acks[0].pe_id == pe->id());
  CHECK(f.r1.keep_alive_acks[0].pool_handle == PoolHandle("EchoPool"));
  CHECK(pe->status().keep_alives_answered == 1);
  CHECK(pe->status().home_registrar == std::optional<RegistrarId>(0x1111));
}

TEST_CASE("a rejected registration reports the registrar's cause and stops") {
  PeFixture f;
  f.r1.reject_with = wire::CauseCode::InconsistentPoolingPolicy;
  auto pe = f.make();
  f.net.drain();
  const auto* failed = f.events.last(PoolElementEventKind::RegistrationFailed);
  REQUIRE(failed != nullptr);
  CHECK(failed->cause == std::optional(wire::CauseCode::InconsistentPoolingPolicy));
  REQUIRE(failed->error.has_value());
  CHECK(failed->error->code == AsapErrc::RegistrationRejected);
  CHECK_FALSE(pe->registered());
  CHECK(pe->status().last_rejection == std::optional(wire::CauseCode::InconsistentPoolingPolicy));
  f.net.advance(10s);
  CHECK(f.r1.registrations.size() == 1);  // no retry with the same values
}

TEST_CASE("update_policy re-registers at once with the new load") {
  PeFixture f;
  auto pe = f.make(echo_options(100));
  f.net.drain();
  auto p = pe->policy();
  p.load = 0x80000000u;
  REQUIRE(pe->update_policy(p).has_value());
  f.net.drain();
  REQUIRE(f.r1.registrations.size() == 2);
  CHECK(f.r1.registrations[1].pool_element.policy.load == 0x80000000u);
  CHECK(f.r1.registrations[1].pool_element.id == pe->id());
  p.type = PolicyType::RoundRobin;
  CHECK(pe->update_policy(p).error().code == AsapErrc::InvalidArgument);
}

TEST_CASE("when the home registrar dies the PE re-registers with the next one (server hunt)") {
  PeFixture f;
  auto pe = f.make();
  f.net.drain();
  REQUIRE(f.r1.registrations.size() == 1);
  f.net.network.fail(f.r1.port());
  f.net.drain();
  CHECK(f.events.count(PoolElementEventKind::RegistrarLost) == 1);
  REQUIRE(f.r2.registrations.size() == 1);
  CHECK(f.r2.registrations[0].pool_element.id == pe->id());
  CHECK(pe->registered());
  CHECK(pe->status().registrar_address->port == 3864);
  CHECK(f.events.count(PoolElementEventKind::Registered) == 2);
}

TEST_CASE("an unresponsive registrar is given up after T2-registration and the next one used") {
  PeFixture f;
  f.r1.silent = true;
  auto pe = f.make();
  f.net.drain();
  REQUIRE(f.r1.registrations.size() == 1);
  CHECK(f.r2.registrations.empty());
  f.net.advance(499ms);
  CHECK(f.r2.registrations.empty());
  f.net.advance(1ms);
  REQUIRE(f.r2.registrations.size() == 1);
  CHECK(pe->registered());
  CHECK(f.events.count(PoolElementEventKind::RegistrarLost) == 1);
}

TEST_CASE("deregistration sends DEREGISTRATION and stops re-registering (RFC 5352 §3.2)") {
  PeFixture f;
  auto pe = f.make();
  f.net.drain();
  std::optional<bool> outcome;
  pe->deregister([&](AsapResult<void> r) { outcome = r.has_value(); });
  CHECK_FALSE(outcome.has_value());  // never inside the call
  f.net.drain();
  REQUIRE(f.r1.deregistrations.size() == 1);
  CHECK(f.r1.deregistrations[0].pe_id == pe->id());
  CHECK(outcome == std::optional(true));
  CHECK(f.events.count(PoolElementEventKind::Deregistered) == 1);
  CHECK_FALSE(pe->registered());
  f.net.advance(20s);
  CHECK(f.r1.registrations.size() == 1);
}

TEST_CASE("deregistration without an answer fails with Timeout after the retransmissions") {
  PeFixture f;
  auto pe = f.make();
  f.net.drain();
  f.r1.silent = true;
  f.r2.silent = true;
  std::optional<AsapErrc> error;
  pe->deregister([&](AsapResult<void> r) { error = r ? std::nullopt : std::optional(r.error().code); });
  f.net.advance(5s);
  CHECK(error == std::optional(AsapErrc::Timeout));
  CHECK(f.r1.deregistrations.size() + f.r2.deregistrations.size() == 3);  // 1 + MAX-REQUEST-RETRANSMIT
}

TEST_CASE("without any reachable registrar the PE reports NoRegistrar and keeps hunting") {
  Net net;
  auto ctx = net.context({3863});
  Recorder<PoolElementEvent> events;
  PoolElementHandlers h;
  h.on_event = events.handler();
  auto pe = PoolElement::create(*ctx, echo_options(), h);
  REQUIRE(pe.has_value());
  net.advance(2s);
  const auto* failed = events.last(PoolElementEventKind::RegistrationFailed);
  REQUIRE(failed != nullptr);
  REQUIRE(failed->error.has_value());
  CHECK(failed->error->code == AsapErrc::NoRegistrar);
  // A registrar appears: the PE finds it and registers.
  FakeRegistrar late(net, 3863, 7);
  net.advance(2s);
  CHECK(late.registrations.size() >= 1);
  CHECK((*pe)->registered());
}

TEST_CASE("a registrar learned from SERVER_ANNOUNCE is used (RFC 5352 §3.6.1) and forgotten after T7") {
  Net net;
  FakeRegistrar r(net, 4000, 0xabcd);
  auto ctx = net.context({});
  CHECK(ctx->registrars().empty());
  msg::ServerAnnounce announce;
  announce.server_id = 0xabcd;
  announce.transports.push_back(loopback(4000));
  ctx->handle_server_announce(announce, IpAddress::v4(127, 0, 0, 1));
  REQUIRE(ctx->registrars().size() == 1);
  CHECK(ctx->registrars()[0].id == std::optional<RegistrarId>(0xabcd));
  auto pe = PoolElement::create(*ctx, echo_options());
  REQUIRE(pe.has_value());
  net.drain();
  CHECK(r.registrations.size() == 1);
  CHECK((*pe)->status().home_registrar == std::optional<RegistrarId>(0xabcd));
  net.advance(5001ms);
  CHECK(ctx->registrars().empty());
}

TEST_CASE("PE sessions: messages, cookies and business cards on the data endpoint") {
  PeFixture f;
  std::vector<ReceivedData> received;
  std::vector<std::vector<std::byte>> echoes;
  PoolElementHandlers h;
  h.on_event = f.events.handler();
  h.on_message = [&](ReceivedData&& d) { received.push_back(std::move(d)); };
  h.on_cookie_echo = [&](SessionId, std::vector<std::byte> c) { echoes.push_back(std::move(c)); };
  auto pe = PoolElement::create(*f.ctx, echo_options(), h);
  REQUIRE(pe.has_value());
  f.net.drain();

  // A raw PU: one association to the PE's data port.
  auto raw = f.net.network.open({});
  REQUIRE(raw.has_value());
  std::vector<transport::ReceivedMessage> at_pu;
  transport::EndpointHandlers rh;
  rh.on_message = [&](transport::ReceivedMessage&& m) { at_pu.push_back(std::move(m)); };
  (*raw)->set_handlers(rh);
  const auto peer = loopback((*pe)->data_endpoint()->local_port());
  REQUIRE((*raw)->send_to(peer, bytes("hello"), send_info(42, 1)).has_value());
  transport::SendInfo control;
  control.ppid = wire::kAsapPpid;
  REQUIRE((*raw)->send_to(peer, wire::encode(msg::CookieEcho{bytes("state-7")}), control).has_value());
  f.net.drain();
  REQUIRE(f.events.count(PoolElementEventKind::SessionAdded) == 1);
  REQUIRE(received.size() == 1);
  CHECK(text(received[0].payload) == "hello");
  CHECK(received[0].ppid == 42);
  CHECK(received[0].stream == 1);
  REQUIRE(echoes.size() == 1);
  CHECK(text(echoes[0]) == "state-7");

  const SessionId s = received[0].session;
  REQUIRE((*pe)->send(s, bytes("reply"), with_ppid(42)).has_value());
  REQUIRE((*pe)->send_cookie(s, bytes("state-8")).has_value());
  REQUIRE((*pe)->send_business_card(s, PoolHandle("BackupPool")).has_value());
  CHECK((*pe)->send(s, bytes("x"), with_ppid(11)).error().code == AsapErrc::InvalidArgument);
  CHECK((*pe)->send(99, bytes("x")).error().code == AsapErrc::NoSuchSession);
  f.net.drain();
  REQUIRE(at_pu.size() == 3);
  CHECK(text(at_pu[0].payload) == "reply");
  auto cookie = wire::decode_asap(at_pu[1].payload);
  REQUIRE(cookie.has_value());
  CHECK(std::get<msg::Cookie>(*cookie).cookie == bytes("state-8"));
  auto card = wire::decode_asap(at_pu[2].payload);
  REQUIRE(card.has_value());
  CHECK(std::get<msg::BusinessCard>(*card).pool_handle == PoolHandle("BackupPool"));

  REQUIRE((*pe)->close_session(s).has_value());
  f.net.drain();
  CHECK(f.events.count(PoolElementEventKind::SessionRemoved) == 1);
  CHECK((*pe)->sessions().empty());
}


TEST_CASE("an ASAP ERROR answering a registration fails it at once with the cause in the event") {
  PeFixture f;
  f.r1.error_with = wire::CauseCode::LackOfResources;
  auto pe = f.make();
  f.net.drain();
  REQUIRE(f.r1.registrations.size() == 1);
  const auto* failed = f.events.last(PoolElementEventKind::RegistrationFailed);
  REQUIRE(failed != nullptr);
  REQUIRE(failed->error.has_value());
  CHECK(failed->error->code == AsapErrc::ProtocolError);
  CHECK(failed->error->message.find("Lack of Resources") != std::string::npos);
  CHECK_FALSE(pe->registered());
}

}  // namespace
}  // namespace rsp::asap::test

namespace rsp::asap::test {
namespace {

bool consistent(const transport::AssociationParameters& p) {
  return p.rto_min.count() > 0 && p.rto_min <= p.rto_initial && p.rto_initial <= p.rto_max &&
         p.outbound_streams > 0 && p.max_inbound_streams > 0;
}

TEST_CASE("both profiles have consistent association parameters and the documented failover bounds") {
  for (const auto& c : {default_config(), low_latency_config()}) {
    CHECK(consistent(c.data_association));
    CHECK(consistent(c.registrar_association));
  }
  // A silent PE is declared dead after (Max.Retrans + 1) RTO-max timeouts.
  auto detection = [](const transport::AssociationParameters& p) {
    return p.rto_max * (p.max_retransmissions + 1);
  };
  CHECK(detection(default_config().data_association) <= std::chrono::milliseconds(1000));
  CHECK(detection(low_latency_config().data_association) <= std::chrono::milliseconds(200));
}

}  // namespace
}  // namespace rsp::asap::test

namespace rsp::asap::test {
namespace {

TEST_CASE("a keep-alive with the H flag from another registrar makes it the home registrar (RFC 5352 §3.7)") {
  Net net;
  FakeRegistrar r1(net, 3863, 0x1111);
  FakeRegistrar r2(net, 3864, 0x2222);
  auto ctx = net.context({3863, 3864});
  Recorder<PoolElementEvent> events;
  PoolElementOptions o;
  o.pool_handle = PoolHandle("EchoPool");
  PoolElementHandlers h;
  h.on_event = events.handler();
  auto pe = PoolElement::create(*ctx, o, h);
  REQUIRE(pe.has_value());
  net.drain();
  REQUIRE(r1.registrations.size() == 1);
  REQUIRE(r1.registrations[0].pool_element.asap_transport.has_value());
  const auto asap_transport = *r1.registrations[0].pool_element.asap_transport;

  // r2 took over (ENRP): it reaches the PE at its advertised ASAP transport.
  r2.send_keep_alive_to(asap_transport, PoolHandle("EchoPool"), (*pe)->id(), true);
  net.drain();
  REQUIRE(r2.keep_alive_acks.size() == 1);
  CHECK(r2.keep_alive_acks[0].pe_id == (*pe)->id());
  CHECK(events.count(PoolElementEventKind::HomeRegistrarChanged) == 1);
  CHECK((*pe)->status().home_registrar == std::optional<RegistrarId>(0x2222));
  // The next re-registration goes to the new home registrar.
  net.advance(4s);
  CHECK(r2.registrations.size() == 1);
  CHECK(r1.registrations.size() == 1);
  CHECK((*pe)->registered());
}

TEST_CASE("keep-alives for another PE id are not answered") {
  Net net;
  FakeRegistrar r1(net, 3863, 0x1111);
  auto ctx = net.context({3863});
  PoolElementOptions o;
  o.pool_handle = PoolHandle("EchoPool");
  o.id = 5;
  auto pe = PoolElement::create(*ctx, o);
  REQUIRE(pe.has_value());
  net.drain();
  r1.add(PoolHandle("EchoPool"), r1.pools[PoolHandle("EchoPool")][5]);
  r1.send_keep_alive(PoolHandle("EchoPool"), 5, false);
  net.drain();
  CHECK(r1.keep_alive_acks.size() == 1);
  // Same association, unknown id: silence (RFC 5352 §3.7 names the PE).
  r1.send_keep_alive_to(r1.registrations[0].pool_element.asap_transport.value(), PoolHandle("EchoPool"), 6, false);
  net.drain();
  CHECK(r1.keep_alive_acks.size() == 1);
}

}  // namespace
}  // namespace rsp::asap::test
