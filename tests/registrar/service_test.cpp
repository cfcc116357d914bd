// The asio Service over the in-memory network: the shell wires endpoints, association events
// and the core together (deterministic delivery, no sockets).
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>

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
