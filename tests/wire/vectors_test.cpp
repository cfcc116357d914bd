// Byte vectors written by hand from the message and parameter figures of RFC 5352 §2.2,
// RFC 5353 §2 and RFC 5354 §3 (not produced by our encoder). Each is decoded and checked field
// by field, then re-encoded and compared byte for byte.
#include <doctest/doctest.h>

#include <initializer_list>

#include "rsp/wire/codec.hpp"

using namespace rsp;
using namespace rsp::wire;

namespace {

std::vector<std::byte> bytes(std::initializer_list<int> values) {
  std::vector<std::byte> out;
  for (int v : values) out.push_back(static_cast<std::byte>(v));
  return out;
}

// Pool handle "EP": type 0x0009, length 6 (header + 2 bytes), two bytes of padding.
#define POOL_HANDLE_EP 0x00, 0x09, 0x00, 0x06, 0x45, 0x50, 0x00, 0x00
// PE identifier 1: type 0x000e, length 8.
#define PE_ID_1 0x00, 0x0e, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01
// Pool element (RFC 5354 §3.10): id 1, home registrar 0, life 5000 ms, SCTP port 7000 data-only
// on 127.0.0.1 (RFC 5354 §3.4 + §3.1), Round Robin policy (RFC 5356 §4.1). Length 40.
#define PE_1                                                                      \
  0x00, 0x0a, 0x00, 0x28, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, \
      0x13, 0x88, 0x00, 0x04, 0x00, 0x10, 0x1b, 0x58, 0x00, 0x00, 0x00, 0x01, 0x00,   \
      0x08, 0x7f, 0x00, 0x00, 0x01, 0x00, 0x08, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01

void check_pe_1(const PoolElement& pe) {
  CHECK(pe.id == 1);
  CHECK(pe.home_registrar_id == 0);
  CHECK(pe.registration_life == std::chrono::milliseconds(5000));
  CHECK(pe.user_transport.protocol == TransportProtocol::Sctp);
  CHECK(pe.user_transport.port == 7000);
  CHECK(pe.user_transport.use == TransportUse::DataOnly);
  REQUIRE(pe.user_transport.addresses.size() == 1);
  CHECK(pe.user_transport.addresses[0] == IpAddress::v4(127, 0, 0, 1));
  CHECK(pe.policy.type == PolicyType::RoundRobin);
  CHECK_FALSE(pe.asap_transport.has_value());
}

template <typename M>
void check_reencodes(const M& decoded, const std::vector<std::byte>& wire) {
  CHECK(encode(decoded) == wire);
}

}  // namespace

TEST_CASE("REGISTRATION from the RFC 5352 §2.2.1 figure decodes field by field") {
  const auto wire = bytes({0x01, 0x00, 0x00, 0x34, POOL_HANDLE_EP, PE_1});
  auto m = decode_asap(wire);
  REQUIRE_MESSAGE(m.has_value(), m.error().message);
  const auto& reg = std::get<asap::Registration>(*m);
  CHECK(reg.pool_handle.view() == "EP");
  check_pe_1(reg.pool_element);
  check_reencodes(*m, wire);
}

TEST_CASE("REGISTRATION_RESPONSE with R flag and Unknown Pool Handle cause (RFC 5352 §2.2.3)") {
  const auto wire = bytes({0x03, 0x01, 0x00, 0x1c, POOL_HANDLE_EP, PE_ID_1,
                           // Operation Error: one cause 0x9 of length 4 (no information)
                           0x00, 0x0c, 0x00, 0x08, 0x00, 0x09, 0x00, 0x04});
  auto m = decode_asap(wire);
  REQUIRE_MESSAGE(m.has_value(), m.error().message);
  const auto& r = std::get<asap::RegistrationResponse>(*m);
  CHECK(r.rejected);
  CHECK(r.pe_id == 1);
  REQUIRE(r.error.has_value());
  REQUIRE(r.error->causes.size() == 1);
  CHECK(r.error->causes[0].code == CauseCode::UnknownPoolHandle);
  CHECK(r.error->causes[0].info.empty());
  check_reencodes(*m, wire);
}

TEST_CASE("ENDPOINT_KEEP_ALIVE with H flag carries the server identifier first (§2.2.7)") {
  const auto wire = bytes({0x07, 0x01, 0x00, 0x18, 0xa1, 0xb2, 0xc3, 0xd4, POOL_HANDLE_EP,
                           PE_ID_1});
  auto m = decode_asap(wire);
  REQUIRE_MESSAGE(m.has_value(), m.error().message);
  const auto& k = std::get<asap::EndpointKeepAlive>(*m);
  CHECK(k.home);
  CHECK(k.server_id == 0xa1b2c3d4);
  CHECK(k.pool_handle.view() == "EP");
  CHECK(k.pe_id == 1);
  check_reencodes(*m, wire);
}

TEST_CASE("HANDLE_RESOLUTION with the Handle Resolution Option 0x803f asks for 3 items") {
  const auto wire = bytes({0x05, 0x00, 0x00, 0x14, POOL_HANDLE_EP,
                           0x80, 0x3f, 0x00, 0x08, 0x00, 0x00, 0x00, 0x03});
  auto m = decode_asap(wire);
  REQUIRE_MESSAGE(m.has_value(), m.error().message);
  const auto& h = std::get<asap::HandleResolution>(*m);
  REQUIRE(h.option.has_value());
  CHECK(h.option->items == 3);
  check_reencodes(*m, wire);
}

TEST_CASE("HANDLE_RESOLUTION accepts RSPLIB's 0x003f spelling of the option") {
  const auto wire = bytes({0x05, 0x00, 0x00, 0x14, POOL_HANDLE_EP,
                           0x00, 0x3f, 0x00, 0x08, 0x00, 0x00, 0x00, 0x07});
  auto m = decode_asap(wire);
  REQUIRE_MESSAGE(m.has_value(), m.error().message);
  CHECK(std::get<asap::HandleResolution>(*m).option->items == 7);
}

TEST_CASE("HANDLE_RESOLUTION_RESPONSE with a WRR PE on TCP over IPv6 (§2.2.6, RFC 5354 §3.5)") {
  const auto wire = bytes({
      0x06, 0x00, 0x00, 0x44, POOL_HANDLE_EP,
      // PE parameter, length 0x38 = 4 header + 12 fixed + 28 TCP transport + 12 policy
      0x00, 0x0a, 0x00, 0x38,
      0x00, 0x00, 0x00, 0x02,  // PE id 2
      0x00, 0x00, 0x00, 0x05,  // home registrar 5
      0xff, 0xff, 0xff, 0xff,  // registration life -1
      // TCP transport, length 28: port 80, use 1 (data plus control), IPv6 2001:db8::1
      0x00, 0x05, 0x00, 0x1c, 0x00, 0x50, 0x00, 0x01,
      0x00, 0x02, 0x00, 0x14, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
      // Weighted Round Robin (RFC 5356 §4.2), weight 10
      0x00, 0x08, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x0a,
  });
  auto m = decode_asap(wire);
  REQUIRE_MESSAGE(m.has_value(), m.error().message);
  const auto& r = std::get<asap::HandleResolutionResponse>(*m);
  REQUIRE(r.pool_elements.size() == 1);
  const auto& pe = r.pool_elements[0];
  CHECK(pe.id == 2);
  CHECK(pe.home_registrar_id == 5);
  CHECK(pe.registration_life == std::chrono::milliseconds(-1));
  CHECK(pe.user_transport.protocol == TransportProtocol::Tcp);
  CHECK(pe.user_transport.port == 80);
  CHECK(pe.user_transport.use == TransportUse::DataPlusControl);
  CHECK(pe.user_transport.addresses[0] ==
        IpAddress::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
  CHECK(pe.policy.type == PolicyType::WeightedRoundRobin);
  CHECK(pe.policy.weight == 10);
  check_reencodes(*m, wire);
}

TEST_CASE("DCCP transport carries a reserved field and a 32-bit service code (RFC 5354 §3.3)") {
  const auto wire = bytes({0x00, 0x03, 0x00, 0x14, 0x17, 0x70, 0x00, 0x00, 0xde, 0xad, 0xbe,
                           0xef, 0x00, 0x01, 0x00, 0x08, 0x0a, 0x01, 0x02, 0x03});
  auto t = decode_transport(wire);
  REQUIRE_MESSAGE(t.has_value(), t.error().message);
  CHECK(t->protocol == TransportProtocol::Dccp);
  CHECK(t->port == 6000);
  CHECK(t->dccp_service_code == 0xdeadbeef);
  CHECK(t->addresses[0] == IpAddress::v4(10, 1, 2, 3));
}

TEST_CASE("policy values follow RFC 5356 and RSPLIB's layouts") {
  // LUD (RFC 5356 §5.2): load 50%, degradation 1/256.
  auto lud = decode_policy(bytes({0x00, 0x08, 0x00, 0x10, 0x40, 0x00, 0x00, 0x02, 0x80, 0x00,
                                  0x00, 0x00, 0x01, 0x00, 0x00, 0x00}));
  REQUIRE(lud.has_value());
  CHECK(lud->type == PolicyType::LeastUsedWithDegradation);
  CHECK(lud->load == 0x80000000u);
  CHECK(lud->load_degradation == 0x01000000u);
  // LU-DPF (RSPLIB 0xb0002002): load, load DPF, distance.
  auto ludpf = decode_policy(bytes({0x00, 0x08, 0x00, 0x14, 0xb0, 0x00, 0x20, 0x02, 0x00, 0x00,
                                    0x00, 0x10, 0x00, 0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x30}));
  REQUIRE(ludpf.has_value());
  CHECK(ludpf->load == 0x10);
  CHECK(ludpf->load_dpf == 0x20);
  CHECK(ludpf->distance == 0x30);
  // PLU as RSPLIB sends it, with the load alone.
  auto plu = decode_policy(
      bytes({0x00, 0x08, 0x00, 0x0c, 0x40, 0x00, 0x00, 0x03, 0x00, 0x00, 0x01, 0x00}));
  REQUIRE(plu.has_value());
  CHECK(plu->type == PolicyType::PriorityLeastUsed);
  CHECK(plu->load == 0x100);
}

TEST_CASE("ENRP PRESENCE with R flag and a PE checksum (RFC 5353 §2.1, RFC 5354 §3.15)") {
  const auto wire = bytes({0x01, 0x01, 0x00, 0x14, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
                           0x02, 0x00, 0x0f, 0x00, 0x06, 0xab, 0xcd, 0x00, 0x00});
  auto m = decode_enrp(wire);
  REQUIRE_MESSAGE(m.has_value(), m.error().message);
  const auto& p = std::get<enrp::Presence>(*m);
  CHECK(p.reply_required);
  CHECK(p.sender_id == 1);
  CHECK(p.receiver_id == 2);
  CHECK(p.checksum == 0xabcd);
  CHECK_FALSE(p.server_information.has_value());
  check_reencodes(*m, wire);
}

TEST_CASE("ENRP HANDLE_UPDATE deleting a PE (RFC 5353 §2.4)") {
  const auto wire = bytes({0x04, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
                           0x02, 0x00, 0x01, 0x00, 0x00, POOL_HANDLE_EP, PE_1});
  auto m = decode_enrp(wire);
  REQUIRE_MESSAGE(m.has_value(), m.error().message);
  const auto& u = std::get<enrp::HandleUpdate>(*m);
  CHECK_FALSE(u.takeover_suggested);
  CHECK(u.action == enrp::UpdateAction::DeletePe);
  CHECK(u.pool_handle.view() == "EP");
  check_pe_1(u.pool_element);
  check_reencodes(*m, wire);
}

TEST_CASE("ENRP HANDLE_TABLE_RESPONSE flags: M is bit 1, R is bit 0 (RFC 5353 §2.3)") {
  const auto wire = bytes({0x03, 0x02, 0x00, 0x14, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
                           0x02, POOL_HANDLE_EP});
  auto m = decode_enrp(wire);
  REQUIRE_MESSAGE(m.has_value(), m.error().message);
  const auto& r = std::get<enrp::HandleTableResponse>(*m);
  CHECK(r.more_to_send);
  CHECK_FALSE(r.rejected);
  REQUIRE(r.pools.size() == 1);
  CHECK(r.pools[0].pool_elements.empty());
}

TEST_CASE("ENRP INIT_TAKEOVER carries the target server identifier (RFC 5353 §2.7)") {
  const auto wire = bytes({0x07, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
                           0x02, 0x00, 0x00, 0x00, 0x03});
  auto m = decode_enrp(wire);
  REQUIRE_MESSAGE(m.has_value(), m.error().message);
  CHECK(std::get<enrp::InitTakeover>(*m).target_id == 3);
  check_reencodes(*m, wire);
}
