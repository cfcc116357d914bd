// The asio Service over the in-memory network: the shell wires endpoints, association events
// and the core together (deterministic delivery, no sockets).
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>

#include <array>
#include <functional>

#include <nlohmann/json.hpp>

#include "rsp/registrar/service.hpp"
#include "rsp/transport/memory_network.hpp"
#include "rsp/wire/codec.hpp"

using namespace rsp;
using namespace rsp::registrar;
namespace asap = rsp::wire::asap;

namespace {

struct Peer {
  std::unique_ptr<transport::Endpoint> endpoint;
  std::vector<wire::AsapMessage> inbox;
  transport::AssociationId association = 0;
};

Peer open_peer(transport::MemoryNetwork& net, std::uint16_t port) {
  Peer p;
  transport::EndpointOptions o;
  o.port = port;
  o.listen = false;
  auto r = net.open(o);
  REQUIRE(r.has_value());
  p.endpoint = std::move(r).value();
  return p;
}

void attach(Peer& p) {
  transport::EndpointHandlers h;
  h.on_message = [&p](transport::ReceivedMessage&& m) {
    auto d = wire::decode_asap(m.payload);
    REQUIRE(d.has_value());
    p.inbox.push_back(std::move(*d));
  };
  p.endpoint->set_handlers(std::move(h));
}

TransportAddress at(std::uint16_t port) {
  TransportAddress t;
  t.port = port;
  t.addresses.push_back(IpAddress::v4(127, 0, 0, 1));
  return t;
}

}  // namespace

TEST_CASE("the service registers, resolves and drops a failed PE over the in-memory network") {
  boost::asio::io_context io;
  transport::MemoryNetwork net(io);
  ServiceOptions o;
  o.config.id = 42;
  o.config.min_address_scope = AddressScope::Loopback;
  o.listen.push_back(SocketAddress{IpAddress::v4(127, 0, 0, 1), 3863});
  o.announce.reset();
  o.open_endpoint = [&net](const transport::EndpointOptions& eo) { return net.open(eo); };
  std::vector<std::string> events;
  o.on_event = [&events](const Event& e) { events.emplace_back(e.kind); };
  auto service = Service::start(io, o);
  REQUIRE(service.has_value());
  CHECK((*service)->backend() == transport::Backend::Memory);
  REQUIRE((*service)->listening().size() == 1);
  CHECK((*service)->listening()[0].port == 3863);

  Peer pe = open_peer(net, 5000);
  attach(pe);
  wire::asap::Registration reg;
  reg.pool_handle = PoolHandle("Mem");
  reg.pool_element.id = 11;
  reg.pool_element.registration_life = std::chrono::seconds(60);
  reg.pool_element.user_transport.port = 5000;
  reg.pool_element.user_transport.addresses.push_back(IpAddress::v4(127, 0, 0, 1));
  auto bytes = wire::encode(wire::AsapMessage{reg});
  REQUIRE(pe.endpoint->send_to(at(3863), bytes, transport::SendInfo{wire::kAsapPpid, 0}).has_value());
  io.poll();
  io.restart();
  REQUIRE(pe.inbox.size() == 1);
  CHECK_FALSE(std::get<asap::RegistrationResponse>(pe.inbox[0]).rejected);

  Peer pu = open_peer(net, 6000);
  attach(pu);
  auto hr = wire::encode(wire::AsapMessage{asap::HandleResolution{PoolHandle("Mem"), std::nullopt}});
  REQUIRE(pu.endpoint->send_to(at(3863), hr, transport::SendInfo{wire::kAsapPpid, 0}).has_value());
  io.poll();
  io.restart();
  REQUIRE(pu.inbox.size() == 1);
  CHECK(std::get<asap::HandleResolutionResponse>(pu.inbox[0]).pool_elements.size() == 1);

  auto j = nlohmann::json::parse((*service)->status_json());
  CHECK(j["element_count"] == 1);
  CHECK(j["pools"][0]["elements"][0]["id"] == 11);

  // The PE's process dies: its association is lost and the PE goes with it.
  net.fail(5000);
  io.poll();
  io.restart();
  CHECK((*service)->core().handlespace().element_count() == 0);
  CHECK(std::find(events.begin(), events.end(), "association-removed") != events.end());

  // A message with another PPID is not ASAP: ignored.
  REQUIRE(pu.endpoint->send_to(at(3863), hr, transport::SendInfo{99, 0}).has_value());
  io.poll();
  CHECK(pu.inbox.size() == 1);
  (*service)->stop();
}

TEST_CASE("SERVER_ANNOUNCE goes out every announce cycle with the registrar id and its listening transport (RFC 5352 §3.6)") {
  boost::asio::io_context io;
  transport::MemoryNetwork net(io);
  // The destination: a UDP socket on loopback (a unicast destination: no interface choice).
  boost::asio::ip::udp::socket receiver(io, boost::asio::ip::udp::endpoint(
                                                boost::asio::ip::address_v4::loopback(), 0));
  ServiceOptions o;
  o.config.id = 0x5e4e;
  o.config.timers.announce_interval = std::chrono::milliseconds(20);
  o.listen.push_back(SocketAddress{IpAddress::v4(127, 0, 0, 1), 3999});
  o.announce = SocketAddress{IpAddress::v4(127, 0, 0, 1), receiver.local_endpoint().port()};
  o.open_endpoint = [&net](const transport::EndpointOptions& eo) { return net.open(eo); };
  auto service = Service::start(io, o);
  REQUIRE(service.has_value());
  CHECK((*service)->announce_interfaces() == std::vector<std::string>{""});

  std::vector<asap::ServerAnnounce> heard;
  std::array<std::byte, 2048> buffer{};
  boost::asio::ip::udp::endpoint from;
  std::function<void()> receive = [&] {
    receiver.async_receive_from(boost::asio::buffer(buffer), from,
                                [&](const boost::system::error_code& ec, std::size_t n) {
                                  if (ec) return;
                                  auto d = wire::decode_asap(std::span(buffer.data(), n));
                                  REQUIRE(d.has_value());
                                  heard.push_back(std::get<asap::ServerAnnounce>(*d));
                                  if (heard.size() < 2) receive();
                                });
  };
  receive();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (heard.size() < 2 && std::chrono::steady_clock::now() < deadline) io.run_one_for(std::chrono::milliseconds(100));
  REQUIRE(heard.size() == 2);  // the first at start, the next one cycle later
  for (const auto& a : heard) {
    CHECK(a.server_id == 0x5e4e);
    REQUIRE(a.transports.size() == 1);
    CHECK(a.transports[0].port == 3999);
    CHECK(a.transports[0].addresses[0] == IpAddress::v4(127, 0, 0, 1));
  }
  (*service)->stop();
  CHECK((*service)->announce_interfaces() == std::vector<std::string>{""});
}

TEST_CASE("an announce interface that does not exist is refused at start") {
  boost::asio::io_context io;
  transport::MemoryNetwork net(io);
  ServiceOptions o;
  o.config.id = 7;
  o.listen.push_back(SocketAddress{IpAddress::v4(127, 0, 0, 1), 3999});
  o.announce_interfaces = {"nosuchif0"};
  o.open_endpoint = [&net](const transport::EndpointOptions& eo) { return net.open(eo); };
  auto service = Service::start(io, o);
  REQUIRE_FALSE(service.has_value());
  CHECK(service.error().code == ServiceErrc::InvalidArgument);
  CHECK(service.error().message.find("nosuchif0") != std::string::npos);
}

TEST_CASE("multicast announces go out on the interfaces of the listen addresses, or on all for the wildcard") {
  boost::asio::io_context io;
  transport::MemoryNetwork net(io);
  ServiceOptions o;
  o.config.id = 8;
  // A group and port nobody listens on: the announcements this sends are seen by no client.
  o.announce = SocketAddress{IpAddress::v4(239, 255, 42, 1), 9};
  o.open_endpoint = [&net](const transport::EndpointOptions& eo) { return net.open(eo); };
  SUBCASE("listening on 127.0.0.1: the loopback interface only") {
    o.listen.push_back(SocketAddress{IpAddress::v4(127, 0, 0, 1), 3999});
    auto service = Service::start(io, o);
    REQUIRE(service.has_value());
    CHECK((*service)->announce_interfaces() == std::vector<std::string>{"lo"});
  }
  SUBCASE("listening on the wildcard: every up multicast-capable interface, loopback included") {
    o.listen.push_back(SocketAddress{IpAddress::v4(0, 0, 0, 0), 3999});
    auto service = Service::start(io, o);
    REQUIRE(service.has_value());
    const auto names = (*service)->announce_interfaces();
    CHECK(std::find(names.begin(), names.end(), "lo") != names.end());
  }
}
