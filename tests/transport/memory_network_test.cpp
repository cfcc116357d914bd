// The in-memory backend: same Endpoint contract as the real ones, deterministic delivery.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>

#include "rsp/transport/memory_network.hpp"
#include "test_support.hpp"

using namespace rsp;
using namespace rsp::transport;
using namespace rsp::transport::test;

namespace {

std::vector<std::byte> bytes(std::string_view s) {
  std::vector<std::byte> b(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) b[i] = std::byte(static_cast<unsigned char>(s[i]));
  return b;
}

// poll() leaves the context stopped once it runs out of work; restart before each step.
void drain(boost::asio::io_context& io) {
  io.restart();
  io.poll();
}

// A listening server and a client endpoint on one in-memory network, each with a Recorder.
struct ServerAndClient {
  boost::asio::io_context io;
  MemoryNetwork net{io};
  std::unique_ptr<Endpoint> server = net.open({}).value();
  std::unique_ptr<Endpoint> client = net.open(client_options()).value();
  Recorder s, c;

  ServerAndClient() {
    server->set_handlers(s.handlers());
    client->set_handlers(c.handlers());
  }
  static EndpointOptions client_options() {
    EndpointOptions o;
    o.listen = false;
    return o;
  }
};

}  // namespace

TEST_CASE_FIXTURE(ServerAndClient, "memory network: send_to sets up an association and delivers with PPID and stream") {
  CHECK(server->backend() == Backend::Memory);

  auto id = client->send_to(loopback(server->local_port()), bytes("hello"), SendInfo{11, 3, true, {}});
  REQUIRE(id);
  CHECK(s.messages.empty());  // nothing happens inside the call
  drain(io);
  REQUIRE(s.messages.size() == 1);
  CHECK(s.messages[0].payload == bytes("hello"));
  CHECK(s.messages[0].ppid == 11);
  CHECK(s.messages[0].stream == 3);
  CHECK(s.messages[0].unordered);
  CHECK(s.messages[0].peer.port == client->local_port());
  REQUIRE(c.events.size() == 1);
  CHECK(c.events[0].kind == AssociationEventKind::Up);
  CHECK(c.events[0].association == *id);

  // Reply on the association the server saw.
  REQUIRE(server->send(s.messages[0].association, bytes("world"), SendInfo{12, 0, false, {}}));
  drain(io);
  REQUIRE(c.messages.size() == 1);
  CHECK(c.messages[0].association == *id);
  CHECK(c.messages[0].ppid == 12);
  CHECK(client->status(*id)->smoothed_rtt.has_value());
}

TEST_CASE("memory network: connecting to a port nobody listens on reports CannotStart and returns the message") {
  boost::asio::io_context io;
  MemoryNetwork net(io);
  auto client = net.open({}).value();
  Recorder c;
  client->set_handlers(c.handlers());
  auto id = client->send_to(loopback(40000), bytes("x"), SendInfo{});
  REQUIRE(id);
  drain(io);
  REQUIRE(c.events.size() == 1);
  CHECK(c.events[0].kind == AssociationEventKind::CannotStart);
  REQUIRE(c.failures.size() == 1);
  CHECK(c.failures[0].payload == bytes("x"));
  CHECK(client->associations().empty());
}

TEST_CASE_FIXTURE(ServerAndClient, "memory network: a failed endpoint's peers see the association lost") {
  auto id = client->connect(loopback(server->local_port())).value();
  drain(io);
  net.fail(server->local_port());
  drain(io);
  REQUIRE(c.events.size() == 2);
  CHECK(c.events[1].kind == AssociationEventKind::Lost);
  CHECK(c.events[1].association == id);
  CHECK(client->send(id, bytes("late"), SendInfo{}).error().code == TransportErrc::NoSuchAssociation);
}

TEST_CASE_FIXTURE(ServerAndClient, "memory network: graceful shutdown delivers queued messages before ShutdownComplete") {
  auto id = client->connect(loopback(server->local_port())).value();
  drain(io);
  REQUIRE(client->send(id, bytes("a"), SendInfo{}));
  REQUIRE(client->send(id, bytes("b"), SendInfo{}));
  REQUIRE(client->shutdown(id));
  drain(io);
  CHECK(s.messages.size() == 2);
  REQUIRE(s.events.size() == 2);
  CHECK(s.events[1].kind == AssociationEventKind::ShutdownComplete);
  CHECK(c.events.back().kind == AssociationEventKind::ShutdownComplete);
}

TEST_CASE_FIXTURE(ServerAndClient, "memory network: a disconnected pair loses its association and cannot reconnect until healed") {
  const auto a = client->local_port();
  const auto b = server->local_port();
  (void)client->connect(loopback(b));
  drain(io);
  net.disconnect(a, b);
  drain(io);
  CHECK(c.events.back().kind == AssociationEventKind::Lost);
  CHECK(s.events.back().kind == AssociationEventKind::Lost);
  (void)client->connect(loopback(b));
  drain(io);
  CHECK(c.events.back().kind == AssociationEventKind::CannotStart);
  net.reconnect(a, b);
  (void)client->connect(loopback(b));
  drain(io);
  CHECK(c.events.back().kind == AssociationEventKind::Up);
}

TEST_CASE_FIXTURE(ServerAndClient, "memory network: a paused endpoint holds deliveries back and gives them, in order, once resumed") {
  auto id = client->send_to(loopback(server->local_port()), bytes("0"), SendInfo{});
  REQUIRE(id);
  drain(io);
  REQUIRE(s.messages.size() == 1);
  server->pause_receiving(true);
  for (char c = '1'; c <= '3'; ++c) REQUIRE(client->send(*id, bytes(std::string(1, c)), SendInfo{}));
  drain(io);
  CHECK(s.messages.size() == 1);
  server->pause_receiving(false);
  REQUIRE(client->send(*id, bytes("4"), SendInfo{}));  // after the held ones
  CHECK(s.messages.size() == 1);  // nothing inside the call
  drain(io);
  REQUIRE(s.messages.size() == 5);
  for (std::size_t i = 0; i < 5; ++i) CHECK(s.messages[i].payload == bytes(std::string(1, static_cast<char>('0' + i))));
}
