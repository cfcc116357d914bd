// Sample messages for the wire tests, the fuzz seed corpus, the tshark check and the benchmark:
// every ASAP and ENRP message, with every optional part filled in.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "rsp/wire/codec.hpp"

namespace rsp::wire::samples {

inline IpAddress v6_sample() {
  return IpAddress::v6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42});
}

inline TransportAddress sctp(std::uint16_t port, std::initializer_list<IpAddress> addresses,
                             TransportUse use = TransportUse::DataOnly) {
  TransportAddress t;
  t.protocol = TransportProtocol::Sctp;
  t.port = port;
  t.use = use;
  for (const auto& a : addresses) t.addresses.push_back(a);
  return t;
}

inline TransportAddress single(TransportProtocol p, std::uint16_t port, IpAddress address) {
  TransportAddress t;
  t.protocol = p;
  t.port = port;
  t.addresses.push_back(address);
  if (p == TransportProtocol::Tcp) t.use = TransportUse::DataPlusControl;
  if (p == TransportProtocol::Dccp) t.dccp_service_code = 0x12345678;
  return t;
}

// A PE whose user transport is SCTP with two addresses, with an ASAP transport.
inline PoolElement pool_element(PoolElementId id = 0x11223344) {
  PoolElement pe;
  pe.id = id;
  pe.home_registrar_id = 0xa1b2c3d4;
  pe.registration_life = std::chrono::milliseconds(30000);
  pe.user_transport = sctp(7000, {IpAddress::v4(10, 0, 0, 1), IpAddress::v4(192, 168, 1, 2)},
                           TransportUse::DataPlusControl);
  pe.policy.type = PolicyType::LeastUsedWithDegradation;
  pe.policy.load = 0x40000000;
  pe.policy.load_degradation = 0x01000000;
  pe.asap_transport = sctp(7001, {IpAddress::v4(10, 0, 0, 1)});
  return pe;
}

inline PoolElement pool_element_with(TransportAddress user, PolicyInfo policy,
                                     PoolElementId id) {
  PoolElement pe;
  pe.id = id;
  pe.home_registrar_id = 0x01020304;
  pe.registration_life = std::chrono::milliseconds(-1);
  pe.user_transport = std::move(user);
  pe.policy = std::move(policy);
  return pe;
}

// One PolicyInfo per policy type the codec knows, with distinct values in every field the
// type carries (and zero elsewhere, as decoding yields).
inline std::vector<PolicyInfo> all_policies() {
  auto p = [](PolicyType t) {
    PolicyInfo i;
    i.type = t;
    return i;
  };
  std::vector<PolicyInfo> v;
  v.push_back(p(PolicyType::RoundRobin));
  auto wrr = p(PolicyType::WeightedRoundRobin);
  wrr.weight = 7;
  v.push_back(wrr);
  v.push_back(p(PolicyType::Random));
  auto wrand = p(PolicyType::WeightedRandom);
  wrand.weight = 9;
  v.push_back(wrand);
  auto prio = p(PolicyType::Priority);
  prio.priority = 3;
  v.push_back(prio);
  for (auto t : {PolicyType::LeastUsed, PolicyType::RandomizedLeastUsed,
                 PolicyType::RandomizedPriorityLeastUsed}) {
    auto lu = p(t);
    lu.load = 0x80000000;
    v.push_back(lu);
  }
  for (auto t : {PolicyType::LeastUsedWithDegradation, PolicyType::PriorityLeastUsed,
                 PolicyType::RandomizedLeastUsedDegradation,
                 PolicyType::PriorityLeastUsedDegradation,
                 PolicyType::RandomizedPriorityLeastUsedDegradation}) {
    auto lud = p(t);
    lud.load = 0x20000000;
    lud.load_degradation = 0x00100000;
    v.push_back(lud);
  }
  auto wdpf = p(PolicyType::WeightedRandomDpf);
  wdpf.weight = 5;
  wdpf.weight_dpf = 0x10000000;
  wdpf.distance = 120;
  v.push_back(wdpf);
  auto ludpf = p(PolicyType::LeastUsedDpf);
  ludpf.load = 0x30000000;
  ludpf.load_dpf = 0x00010000;
  ludpf.distance = 40;
  v.push_back(ludpf);
  auto luddpf = p(PolicyType::LeastUsedDegradationDpf);
  luddpf.load = 0x30000000;
  luddpf.load_degradation = 0x00200000;
  luddpf.load_dpf = 0x00010000;
  luddpf.distance = 40;
  v.push_back(luddpf);
  auto unknown = p(static_cast<PolicyType>(0x7fff0001));
  unknown.unknown_value = {std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4}};
  v.push_back(unknown);
  return v;
}

inline OperationError operation_error() {
  // An Invalid Values cause echoing a PE identifier TLV, and a Lack of Resources cause.
  std::vector<std::byte> echoed;
  for (int b : {0x00, 0x0e, 0x00, 0x08, 0xde, 0xad, 0xbe, 0xef}) {
    echoed.push_back(static_cast<std::byte>(b));
  }
  return OperationError{{ErrorCause{CauseCode::InvalidValues, echoed},
                         ErrorCause{CauseCode::LackOfResources, {}}}};
}

inline ServerInformation server_information(RegistrarId id) {
  return ServerInformation{id, sctp(9901, {IpAddress::v4(10, 0, 0, 9), v6_sample()})};
}

// Issue 2's two messages, measured by bench/wire and checked by test_wire_allocations: a
// REGISTRATION whose PE has one SCTP transport of two IPv4 addresses (no ASAP transport; 72
// bytes), and a HANDLE_RESOLUTION_RESPONSE with 3 PEs (232 bytes).
inline AsapMessage registration_with_one_transport() {
  PoolElement pe = pool_element();
  pe.asap_transport.reset();
  return asap::Registration{PoolHandle("EchoPool"), pe};
}

inline AsapMessage resolution_response_with_3_pes() {
  std::vector<PoolElement> pes;
  for (PoolElementId i = 1; i <= 3; ++i) pes.push_back(pool_element(i));
  return asap::HandleResolutionResponse{PoolHandle("EchoPool"), std::nullopt, pes, std::nullopt};
}

inline std::vector<AsapMessage> all_asap() {
  const PoolHandle ph("EchoPool");
  std::vector<AsapMessage> v;
  v.push_back(asap::Registration{ph, pool_element()});
  v.push_back(asap::Deregistration{ph, 0x11223344});
  v.push_back(asap::RegistrationResponse{true, ph, 0x11223344, operation_error()});
  v.push_back(asap::RegistrationResponse{false, ph, 0x11223344, std::nullopt});
  v.push_back(asap::DeregistrationResponse{ph, 0x11223344, operation_error()});
  v.push_back(asap::HandleResolution{ph, HandleResolutionOption{3}});
  v.push_back(asap::HandleResolution{ph, std::nullopt});
  std::vector<PoolElement> pes;
  const auto policies = all_policies();
  for (std::size_t i = 0; i < 3; ++i) pes.push_back(pool_element(0x1000 + i));
  pes.push_back(pool_element_with(single(TransportProtocol::Tcp, 80, v6_sample()), policies[1],
                                  0x2001));
  pes.push_back(pool_element_with(single(TransportProtocol::Udp, 53, IpAddress::v4(1, 2, 3, 4)),
                                  policies[4], 0x2002));
  pes.push_back(pool_element_with(
      single(TransportProtocol::UdpLite, 5000, IpAddress::v4(5, 6, 7, 8)), policies[13], 0x2003));
  pes.push_back(pool_element_with(single(TransportProtocol::Dccp, 6000, IpAddress::v4(9, 9, 9, 9)),
                                  policies[15], 0x2004));
  v.push_back(asap::HandleResolutionResponse{ph, policies[5], pes, operation_error()});
  v.push_back(asap::HandleResolutionResponse{ph, std::nullopt, {}, OperationError{{
                                              ErrorCause{CauseCode::UnknownPoolHandle, {}}}}});
  v.push_back(asap::EndpointKeepAlive{true, 0xa1b2c3d4, ph, 0x11223344});
  v.push_back(asap::EndpointKeepAliveAck{ph, 0x11223344});
  v.push_back(asap::EndpointUnreachable{ph, 0x11223344});
  v.push_back(asap::ServerAnnounce{
      0xa1b2c3d4, {sctp(3863, {IpAddress::v4(10, 0, 0, 9)}),
                   single(TransportProtocol::Tcp, 3863, IpAddress::v4(10, 0, 0, 9))}});
  v.push_back(asap::Cookie{{std::byte{0xc0}, std::byte{0x0c}, std::byte{0x1e}}});
  v.push_back(asap::CookieEcho{{std::byte{0xc0}, std::byte{0x0c}, std::byte{0x1e}}});
  v.push_back(asap::BusinessCard{ph, {pool_element(1), pool_element(2)}});
  v.push_back(asap::ErrorMessage{operation_error()});
  return v;
}

inline std::vector<EnrpMessage> all_enrp() {
  const PoolHandle ph("EchoPool");
  std::vector<EnrpMessage> v;
  v.push_back(enrp::Presence{true, 0x0a0a0a0a, 0x0b0b0b0b, 0xbeef, server_information(0x0a0a0a0a)});
  v.push_back(enrp::Presence{false, 0x0a0a0a0a, 0, 0x1234, std::nullopt});
  v.push_back(enrp::HandleTableRequest{true, 0x0a0a0a0a, 0x0b0b0b0b});
  v.push_back(enrp::HandleTableResponse{
      true, false, 0x0a0a0a0a, 0x0b0b0b0b,
      {enrp::PoolEntry{ph, {pool_element(1), pool_element(2)}},
       enrp::PoolEntry{PoolHandle("Other"), {pool_element(3)}}}});
  v.push_back(enrp::HandleTableResponse{false, true, 0x0a0a0a0a, 0x0b0b0b0b, {}});
  v.push_back(enrp::HandleUpdate{true, 0x0a0a0a0a, 0x0b0b0b0b, enrp::UpdateAction::DeletePe, ph,
                                 pool_element()});
  v.push_back(enrp::ListRequest{0x0a0a0a0a, 0x0b0b0b0b});
  v.push_back(enrp::ListResponse{false, 0x0a0a0a0a, 0x0b0b0b0b,
                                 {server_information(1), server_information(2)}});
  v.push_back(enrp::InitTakeover{0x0a0a0a0a, 0x0b0b0b0b, 0x0c0c0c0c});
  v.push_back(enrp::InitTakeoverAck{0x0a0a0a0a, 0x0b0b0b0b, 0x0c0c0c0c});
  v.push_back(enrp::TakeoverServer{0x0a0a0a0a, 0x0b0b0b0b, 0x0c0c0c0c});
  v.push_back(enrp::ErrorMessage{0x0a0a0a0a, 0x0b0b0b0b, operation_error()});
  return v;
}

}  // namespace rsp::wire::samples
