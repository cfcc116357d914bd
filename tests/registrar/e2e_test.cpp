// rsp-registrar as a real process on loopback over the usrsctp backend, driven by raw ASAP
// clients (wire codec + transport). Waits are bounded waits on events, never fixed sleeps.
#include <doctest/doctest.h>

#include <random>
#include <set>

#include "e2e_support.hpp"

using namespace rsp;
using namespace rsp::registrar::test;
using namespace std::chrono_literals;
using wire::CauseCode;
namespace asap = rsp::wire::asap;

TEST_CASE("a PE registers and a PU resolves it over real SCTP; status shows it as JSON") {
  RegistrarProcess reg({"--id", "0x0badcafe"});
  boost::asio::io_context io;
  AsapClient pe(io, reg.port);
  REQUIRE(pe.wait_up());
  pe.send(make_registration("EchoPool", 0x1001, pe.port()));
  auto r = pe.next_as<asap::RegistrationResponse>();
  REQUIRE(r);
  CHECK_FALSE(r->rejected);

  AsapClient pu(io, reg.port);
  REQUIRE(pu.wait_up());
  auto hr = resolve(pu, "EchoPool");
  REQUIRE(hr);
  REQUIRE(hr->pool_elements.size() == 1);
  CHECK(hr->pool_elements[0].id == 0x1001);
  CHECK(hr->pool_elements[0].home_registrar_id == 0x0badcafe);
  CHECK(hr->pool_elements[0].user_transport.port == pe.port());

  auto j = reg.status();
  CHECK(j["registrar_id"] == 0x0badcafe);
  CHECK(j["backend"] == "udp");
  CHECK(j["element_count"] == 1);
  REQUIRE(j["pools"].size() == 1);
  CHECK(j["pools"][0]["handle"] == "EchoPool");
  CHECK(j["pools"][0]["elements"][0]["id"] == 0x1001);
  CHECK(j["pools"][0]["elements"][0]["transport"]["addresses"][0] == "127.0.0.1");
  CHECK(j["counters"]["registrations"] == 1);
  CHECK(j["counters"]["handle_resolutions"] == 1);

  // The tool's own status client prints the same.
  auto text = run_program(RSP_REGISTRAR_BIN, {"status", "--status-socket", reg.socket});
  CHECK(text.status == 0);
  CHECK(text.out.find("pool EchoPool") != std::string::npos);
  auto json = run_program(RSP_REGISTRAR_BIN, {"status", "--json", "--status-socket", reg.socket});
  CHECK(json.status == 0);
  CHECK(nlohmann::json::parse(json.out)["element_count"] == 1);

  pe.send(asap::Deregistration{PoolHandle("EchoPool"), 0x1001});
  auto d = pe.next_as<asap::DeregistrationResponse>();
  REQUIRE(d);
  CHECK_FALSE(d->error);
  hr = resolve(pu, "EchoPool");
  REQUIRE(hr);
  CHECK(first_cause(hr->error) == CauseCode::UnknownPoolHandle);
}

TEST_CASE("a re-registration with new policy values is what PUs get") {
  RegistrarProcess reg;
  boost::asio::io_context io;
  AsapClient pe(io, reg.port);
  REQUIRE(pe.wait_up());
  auto m = make_registration("LoadPool", 7, pe.port(), PolicyType::LeastUsed);
  m.pool_element.policy.load = 1000;
  pe.send(m);
  REQUIRE(pe.next_as<asap::RegistrationResponse>());
  m.pool_element.policy.load = 0x80000000u;
  pe.send(m);
  auto r = pe.next_as<asap::RegistrationResponse>();
  REQUIRE(r);
  CHECK_FALSE(r->rejected);
  AsapClient pu(io, reg.port);
  REQUIRE(pu.wait_up());
  pu.send(asap::HandleResolution{PoolHandle("LoadPool"), std::nullopt});
  auto any = pu.next();
  REQUIRE(any);
  INFO("got ", wire::to_string(wire::message_type(*any)));
  auto* hr = std::get_if<asap::HandleResolutionResponse>(&*any);
  REQUIRE(hr);
  REQUIRE(hr->pool_elements.size() == 1);
  CHECK(hr->pool_elements[0].policy.load == 0x80000000u);
  CHECK(reg.status()["counters"]["reregistrations"] == 1);
}

TEST_CASE("a registration expires at the end of its life") {
  RegistrarProcess reg({"--keepalive-interval", "0"});
  boost::asio::io_context io;
  AsapClient pe(io, reg.port);
  REQUIRE(pe.wait_up());
  const auto start = std::chrono::steady_clock::now();
  pe.send(make_registration("Short", 1, pe.port(), PolicyType::RoundRobin, 700ms));
  REQUIRE(pe.next_as<asap::RegistrationResponse>());
  AsapClient pu(io, reg.port);
  REQUIRE(pu.wait_up());
  bool gone = false;
  while (!gone && std::chrono::steady_clock::now() - start < 5s) {
    auto hr = resolve(pu, "Short");
    REQUIRE(hr);
    gone = first_cause(hr->error) == CauseCode::UnknownPoolHandle;
    if (!gone) run_until(io, [] { return false; }, 50ms);
  }
  CHECK(gone);
  CHECK(std::chrono::steady_clock::now() - start >= 700ms);
  CHECK(reg.status()["counters"]["expirations"] == 1);
}

namespace {
// Waits until `pool` resolves to nothing; returns how long that took from `since`.
std::optional<std::chrono::milliseconds> wait_pool_empty(boost::asio::io_context& io, AsapClient& pu,
                                                         std::string_view pool,
                                                         std::chrono::steady_clock::time_point since,
                                                         std::chrono::milliseconds limit) {
  while (std::chrono::steady_clock::now() - since < limit) {
    auto hr = resolve(pu, pool);
    if (hr && first_cause(hr->error) == CauseCode::UnknownPoolHandle)
      return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - since);
    run_until(io, [] { return false; }, 50ms);
  }
  return std::nullopt;
}
}  // namespace

TEST_CASE("a PE killed with SIGKILL is removed within the keep-alive interval plus timeout") {
  RegistrarProcess reg({"--keepalive-interval", "1s", "--keepalive-timeout", "1s"});
  Child pe(RSP_REGISTRAR_PE, {std::to_string(reg.port), "KillPool", "0x2002"});
  REQUIRE(pe.read_line(10s) == std::optional<std::string>("registered"));
  boost::asio::io_context io;
  AsapClient pu(io, reg.port);
  REQUIRE(pu.wait_up());
  auto hr = resolve(pu, "KillPool");
  REQUIRE(hr);
  REQUIRE(hr->pool_elements.size() == 1);
  const auto killed = std::chrono::steady_clock::now();
  pe.signal(SIGKILL);
  auto took = wait_pool_empty(io, pu, "KillPool", killed, 6s);
  REQUIRE(took);
  CHECK(*took <= 2500ms);  // interval 1 s + timeout 1 s + polling slack
  MESSAGE("killed PE removed after ", took->count(), " ms");
}

TEST_CASE("a PE frozen with SIGSTOP is removed within the keep-alive interval plus timeout") {
  RegistrarProcess reg({"--keepalive-interval", "1s", "--keepalive-timeout", "1s"});
  Child pe(RSP_REGISTRAR_PE, {std::to_string(reg.port), "FrozenPool", "0x3003"});
  REQUIRE(pe.read_line(10s) == std::optional<std::string>("registered"));
  boost::asio::io_context io;
  AsapClient pu(io, reg.port);
  REQUIRE(pu.wait_up());
  const auto frozen = std::chrono::steady_clock::now();
  pe.signal(SIGSTOP);
  auto took = wait_pool_empty(io, pu, "FrozenPool", frozen, 6s);
  pe.signal(SIGCONT);
  REQUIRE(took);
  CHECK(*took <= 2500ms);
  CHECK(reg.status()["counters"]["keepalive_timeouts"] == 1);
}

TEST_CASE("a live PE that answers keep-alives stays registered across several audits") {
  // Audits every 300 ms; the answer may take up to 2 s, so that a test host that stops a process
  // for a few hundred milliseconds (a loaded CI machine) does not fail a PE that does answer.
  RegistrarProcess reg({"--keepalive-interval", "300ms", "--keepalive-timeout", "2s"});
  boost::asio::io_context io;
  AsapClient pe(io, reg.port);
  REQUIRE(pe.wait_up());
  pe.send(make_registration("Alive", 5, pe.port()));
  REQUIRE(pe.next_as<asap::RegistrationResponse>());
  REQUIRE(run_until(io, [&] { return pe.keepalives >= 4; }, 5s));
  AsapClient pu(io, reg.port);
  REQUIRE(pu.wait_up());
  auto hr = resolve(pu, "Alive");
  REQUIRE(hr);
  CHECK(hr->pool_elements.size() == 1);
}

TEST_CASE("a PE whose association ends is removed at once") {
  RegistrarProcess reg;
  boost::asio::io_context io;
  auto pe = std::make_unique<AsapClient>(io, reg.port);
  REQUIRE(pe->wait_up());
  pe->send(make_registration("Gone", 5, pe->port()));
  REQUIRE(pe->next_as<asap::RegistrationResponse>());
  pe->close();  // aborts the association
  AsapClient pu(io, reg.port);
  REQUIRE(pu.wait_up());
  auto took = wait_pool_empty(io, pu, "Gone", std::chrono::steady_clock::now(), 3s);
  REQUIRE(took);
  CHECK(*took < 1000ms);
}

TEST_CASE("MAX-BAD-PE-REPORT unreachable reports remove a PE") {
  RegistrarProcess reg({"--max-bad-pe-reports", "2"});
  boost::asio::io_context io;
  AsapClient pe(io, reg.port);
  REQUIRE(pe.wait_up());
  pe.send(make_registration("Flaky", 9, pe.port()));
  REQUIRE(pe.next_as<asap::RegistrationResponse>());
  AsapClient pu(io, reg.port);
  REQUIRE(pu.wait_up());
  pu.send(asap::EndpointUnreachable{PoolHandle("Flaky"), 9});
  auto hr = resolve(pu, "Flaky");
  REQUIRE(hr);
  CHECK(hr->pool_elements.size() == 1);
  pu.send(asap::EndpointUnreachable{PoolHandle("Flaky"), 9});
  hr = resolve(pu, "Flaky");
  REQUIRE(hr);
  CHECK(first_cause(hr->error) == CauseCode::UnknownPoolHandle);
  CHECK(reg.status()["counters"]["unreachable_removals"] == 1);
}

TEST_CASE("every rejection reaches the PE with its cause code") {
  RegistrarProcess reg({"--max-pes-per-association", "3"});
  boost::asio::io_context io;
  AsapClient a(io, reg.port);
  AsapClient b(io, reg.port);
  REQUIRE(a.wait_up());
  REQUIRE(b.wait_up());
  auto cause_of = [](AsapClient& c) -> std::optional<CauseCode> {
    auto r = c.next_as<asap::RegistrationResponse>();
    if (!r || !r->rejected) return std::nullopt;
    return first_cause(r->error);
  };
  a.send(make_registration("P", 1, a.port(), PolicyType::RoundRobin));
  REQUIRE(a.next_as<asap::RegistrationResponse>());

  SUBCASE("inconsistent pooling policy") {
    b.send(make_registration("P", 2, b.port(), PolicyType::LeastUsed));
    CHECK(cause_of(b) == CauseCode::InconsistentPoolingPolicy);
  }
  SUBCASE("inconsistent transport type") {
    auto m = make_registration("P", 2, b.port());
    m.pool_element.user_transport.protocol = TransportProtocol::Tcp;
    b.send(m);
    CHECK(cause_of(b) == CauseCode::InconsistentTransportType);
  }
  SUBCASE("inconsistent data/control configuration") {
    auto m = make_registration("P", 2, b.port());
    m.pool_element.user_transport.use = TransportUse::DataPlusControl;
    b.send(m);
    CHECK(cause_of(b) == CauseCode::InconsistentDataControlConfiguration);
  }
  SUBCASE("non-unique PE identifier") {
    b.send(make_registration("P", 1, b.port()));
    CHECK(cause_of(b) == CauseCode::NonUniquePeIdentifier);
  }
  SUBCASE("an address the association cannot vouch for") {
    auto m = make_registration("P", 2, b.port());
    m.pool_element.user_transport.addresses[0] = IpAddress::v4(192, 0, 2, 1);
    b.send(m);
    CHECK(cause_of(b) == CauseCode::RejectedDueToSecurity);
  }
  SUBCASE("invalid values: PE id 0") {
    b.send(make_registration("P", 0, b.port()));
    CHECK(cause_of(b) == CauseCode::InvalidValues);
  }
  SUBCASE("lack of resources: PEs per association") {
    for (PoolElementId id = 10; id < 13; ++id) {
      b.send(make_registration("P", id, b.port()));
      auto r = b.next_as<asap::RegistrationResponse>();
      REQUIRE(r);
      CHECK_FALSE(r->rejected);
    }
    b.send(make_registration("P", 13, b.port()));
    CHECK(cause_of(b) == CauseCode::LackOfResources);
  }
  SUBCASE("deregistering another association's PE") {
    b.send(asap::Deregistration{PoolHandle("P"), 1});
    auto r = b.next_as<asap::DeregistrationResponse>();
    REQUIRE(r);
    CHECK(first_cause(r->error) == CauseCode::RejectedDueToSecurity);
  }
}

TEST_CASE("a loopback address is below a site-local minimum scope") {
  RegistrarProcess reg({"--min-address-scope", "site-local"});
  boost::asio::io_context io;
  AsapClient pe(io, reg.port);
  REQUIRE(pe.wait_up());
  pe.send(make_registration("P", 1, pe.port()));
  auto r = pe.next_as<asap::RegistrationResponse>();
  REQUIRE(r);
  CHECK(r->rejected);
  CHECK(first_cause(r->error) == CauseCode::InvalidValues);
}

TEST_CASE("malformed and random bytes get ERRORs and the registrar keeps serving others") {
  RegistrarProcess reg;
  boost::asio::io_context io;
  AsapClient pe(io, reg.port);
  REQUIRE(pe.wait_up());
  pe.send(make_registration("Steady", 1, pe.port()));
  REQUIRE(pe.next_as<asap::RegistrationResponse>());

  AsapClient bad(io, reg.port);
  REQUIRE(bad.wait_up());
  // An unknown message type: Unrecognized Message with the message echoed.
  const std::vector<std::byte> unknown{std::byte{0x7f}, std::byte{0}, std::byte{0}, std::byte{8},
                                       std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
  bad.send_bytes(unknown);
  auto e = bad.next_as<asap::ErrorMessage>();
  REQUIRE(e);
  CHECK(e->error.causes[0].code == CauseCode::UnrecognizedMessage);
  CHECK(e->error.causes[0].info == unknown);

  std::mt19937 rng(99);
  int errors = 0;
  for (int i = 0; i < 50; ++i) {
    std::vector<std::byte> b(4 + rng() % 60);
    for (auto& x : b) x = std::byte(static_cast<unsigned char>(rng()));
    b[0] = std::byte(static_cast<unsigned char>(1 + rng() % 14));
    b[2] = std::byte(0);
    b[3] = std::byte(static_cast<unsigned char>(b.size()));
    bad.send_bytes(b);
  }
  // Every reply that comes is a decodable message; the ERRORs count.
  while (auto m = bad.next(1500ms)) {
    if (std::holds_alternative<asap::ErrorMessage>(*m)) ++errors;
  }
  CHECK(errors > 0);
  CHECK(bad.undecodable == 0);

  AsapClient pu(io, reg.port);
  REQUIRE(pu.wait_up());
  auto hr = resolve(pu, "Steady");
  REQUIRE(hr);
  CHECK(hr->pool_elements.size() == 1);
  CHECK(reg.status()["counters"]["malformed_messages"].get<int>() >= 1);
}

TEST_CASE("10000 PEs over 100 associations are registered and resolved correctly") {
  RegistrarProcess reg({"--keepalive-interval", "0", "--max-resolution-items", "200"});
  boost::asio::io_context io;
  constexpr int kAssociations = 100, kPools = 100;
  std::vector<std::unique_ptr<AsapClient>> clients;
  for (int i = 0; i < kAssociations; ++i) clients.push_back(std::make_unique<AsapClient>(io, reg.port));
  REQUIRE(run_until(io, [&] {
    for (auto& c : clients) if (!c->up) return false;
    return true;
  }, 20s));
  // Association i registers PE (pool p, id i*1000+p+1) for every pool p: pipelined.
  for (int i = 0; i < kAssociations; ++i)
    for (int p = 0; p < kPools; ++p)
      REQUIRE(clients[i]->send(make_registration("pool-" + std::to_string(p),
                                                 static_cast<PoolElementId>(i * 1000 + p + 1),
                                                 clients[i]->port(), PolicyType::RoundRobin, 3600s)));
  const auto started = std::chrono::steady_clock::now();
  const bool all = run_until(io, [&] {
    for (auto& c : clients) if (c->inbox.size() < kPools) return false;
    return true;
  }, 150s);
  std::size_t answered = 0;
  for (auto& c : clients) answered += c->inbox.size();
  INFO("answers: ", answered, "; registrar counters: ", reg.status()["counters"].dump());
  REQUIRE(all);
  MESSAGE("10000 registrations answered in ",
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count(), " ms");
  int accepted = 0;
  for (auto& c : clients)
    for (auto& m : c->inbox)
      if (auto* r = std::get_if<asap::RegistrationResponse>(&m); r && !r->rejected) ++accepted;
  CHECK(accepted == kAssociations * kPools);
  for (auto& c : clients) c->inbox.clear();

  auto& pu = *clients[0];
  for (int p = 0; p < kPools; ++p) {
    auto hr = resolve(pu, "pool-" + std::to_string(p), 0xffffffffu);
    REQUIRE(hr);
    std::set<PoolElementId> ids;
    for (auto& e : hr->pool_elements) ids.insert(e.id);
    std::set<PoolElementId> expected;
    for (int i = 0; i < kAssociations; ++i) expected.insert(static_cast<PoolElementId>(i * 1000 + p + 1));
    CHECK(ids == expected);
  }
  auto j = reg.status();
  CHECK(j["element_count"] == kAssociations * kPools);
  CHECK(j["pool_count"] == kPools);
  CHECK(j["associations"] == kAssociations);
}

TEST_CASE("SIGTERM stops the registrar in order with exit status 0 and removes its socket") {
  auto reg = std::make_unique<RegistrarProcess>();
  reg->child->signal(SIGTERM);
  CHECK(reg->child->wait(5s) == std::optional<int>(0));
  CHECK(::access(reg->socket.c_str(), F_OK) != 0);
  CHECK(reg->log_text().find("stopped") != std::string::npos);
}

TEST_CASE("SIGINT stops the registrar with exit status 0") {
  RegistrarProcess reg;
  reg.child->signal(SIGINT);
  CHECK(reg.child->wait(5s) == std::optional<int>(0));
}
