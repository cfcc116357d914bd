// decode(encode(x)) == x for every message with every optional part, and for every parameter.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "rsp/wire/codec.hpp"
#include "samples.hpp"

using namespace rsp;
using namespace rsp::wire;

TEST_CASE("every ASAP message with every optional part decodes to what was encoded") {
  std::set<asap::MessageType> seen;
  for (const auto& message : samples::all_asap()) {
    const auto name = std::string(to_string(message_type(message)));
    CAPTURE(name);
    seen.insert(message_type(message));
    const auto bytes = encode(message);
    CHECK(bytes.size() % 4 == 0);
    DecodeReport report;
    auto decoded = decode_asap(bytes, &report);
    REQUIRE_MESSAGE(decoded.has_value(), decoded.error().message);
    CHECK(*decoded == message);
    CHECK(report.unrecognized_parameters.empty());
    // The append form writes the same bytes after what is already there.
    std::vector<std::byte> appended{std::byte{0xff}};
    encode(message, appended);
    CHECK(std::equal(bytes.begin(), bytes.end(), appended.begin() + 1, appended.end()));
  }
  CHECK(seen.size() == 14);  // RFC 5352 §2.2: all fourteen
}

TEST_CASE("every ENRP message with every optional part decodes to what was encoded") {
  std::set<enrp::MessageType> seen;
  for (const auto& message : samples::all_enrp()) {
    const auto name = std::string(to_string(message_type(message)));
    CAPTURE(name);
    seen.insert(message_type(message));
    const auto bytes = encode(message);
    auto decoded = decode_enrp(bytes);
    REQUIRE_MESSAGE(decoded.has_value(), decoded.error().message);
    CHECK(*decoded == message);
  }
  CHECK(seen.size() == 10);  // RFC 5353 §2: all ten
}

TEST_CASE("the message type byte on the wire is the one RFC 5352/5353 assign") {
  for (const auto& message : samples::all_asap()) {
    CHECK(static_cast<unsigned>(encode(message)[0]) ==
          static_cast<unsigned>(message_type(message)));
  }
  for (const auto& message : samples::all_enrp()) {
    CHECK(static_cast<unsigned>(encode(message)[0]) ==
          static_cast<unsigned>(message_type(message)));
  }
  CHECK(static_cast<unsigned>(message_type(AsapMessage{asap::Deregistration{}})) == 0x02);
  CHECK(static_cast<unsigned>(message_type(AsapMessage{asap::RegistrationResponse{}})) == 0x03);
  CHECK(to_string(asap::MessageType::BusinessCard) == "BUSINESS_CARD");
  CHECK(to_string(enrp::MessageType::TakeoverServer) == "TAKEOVER_SERVER");
}

TEST_CASE("every policy type round-trips as a policy parameter and inside a registration") {
  for (const auto& policy : samples::all_policies()) {
    CAPTURE(static_cast<std::uint32_t>(policy.type));
    std::vector<std::byte> tlv;
    encode_policy(policy, tlv);
    auto decoded = decode_policy(tlv);
    REQUIRE_MESSAGE(decoded.has_value(), decoded.error().message);
    CHECK(*decoded == policy);

    auto pe = samples::pool_element();
    pe.policy = policy;
    const AsapMessage reg = asap::Registration{PoolHandle("p"), pe};
    auto back = decode_asap(encode(reg));
    REQUIRE(back.has_value());
    CHECK(*back == reg);
  }
}

TEST_CASE("every transport protocol round-trips with IPv4 and IPv6 addresses") {
  for (auto p : {TransportProtocol::Sctp, TransportProtocol::Tcp, TransportProtocol::Udp,
                 TransportProtocol::UdpLite, TransportProtocol::Dccp}) {
    for (const auto& a : {IpAddress::v4(127, 0, 0, 1), samples::v6_sample()}) {
      const auto t = samples::single(p, 4242, a);
      std::vector<std::byte> tlv;
      encode_transport(t, tlv);
      auto decoded = decode_transport(tlv);
      REQUIRE_MESSAGE(decoded.has_value(), decoded.error().message);
      CHECK(*decoded == t);
    }
  }
}

TEST_CASE("an SCTP transport keeps more addresses than the inline capacity, in order") {
  TransportAddress t = samples::sctp(1, {});
  for (std::uint8_t i = 0; i < 10; ++i) t.addresses.push_back(IpAddress::v4(10, 0, 0, i));
  std::vector<std::byte> tlv;
  encode_transport(t, tlv);
  auto decoded = decode_transport(tlv);
  REQUIRE(decoded.has_value());
  CHECK(*decoded == t);
}

TEST_CASE("single-parameter helpers round-trip pool handle, PE, server information, error") {
  std::vector<std::byte> b;
  encode_pool_handle(PoolHandle("a pool"), b);
  CHECK(decode_pool_handle(b)->view() == "a pool");

  b.clear();
  const auto pe = samples::pool_element();
  encode_pool_element(pe, b);
  CHECK(*decode_pool_element(b) == pe);

  b.clear();
  const auto si = samples::server_information(77);
  encode_server_information(si, b);
  CHECK(*decode_server_information(b) == si);

  b.clear();
  const auto oe = samples::operation_error();
  encode_operation_error(oe, b);
  CHECK(*decode_operation_error(b) == oe);
}

TEST_CASE("registration life is a signed 32-bit millisecond count, saturated on encode") {
  auto pe = samples::pool_element();
  pe.registration_life = std::chrono::milliseconds(-5);
  std::vector<std::byte> b;
  encode_pool_element(pe, b);
  CHECK(decode_pool_element(b)->registration_life == std::chrono::milliseconds(-5));

  pe.registration_life = std::chrono::hours(24 * 365);
  b.clear();
  encode_pool_element(pe, b);
  CHECK(decode_pool_element(b)->registration_life == std::chrono::milliseconds(0x7fffffff));
}

TEST_CASE("encoding a pool handle longer than kMaxPoolHandleSize is a programming error") {
  const AsapMessage m = asap::HandleResolution{PoolHandle(std::string(33, 'x')), std::nullopt};
  CHECK_THROWS_AS(encode(m), std::invalid_argument);
  const AsapMessage empty = asap::HandleResolution{PoolHandle(""), std::nullopt};
  CHECK_THROWS_AS(encode(empty), std::invalid_argument);
}

TEST_CASE("a message beyond the 16-bit length is refused by the encoder") {
  asap::BusinessCard card{PoolHandle("p"), {}};
  for (int i = 0; i < 2000; ++i) card.pool_elements.push_back(samples::pool_element(i));
  CHECK_THROWS_AS(encode(AsapMessage{card}), std::length_error);
}
