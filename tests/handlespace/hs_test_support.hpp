// Builders shared by the handlespace tests.
#pragma once

#include <chrono>

#include "rsp/handlespace/handlespace.hpp"

namespace rsp::handlespace::test {

inline TimePoint t0() { return TimePoint(std::chrono::seconds(1000)); }

inline TransportAddress sctp(std::uint16_t port, TransportUse use = TransportUse::DataOnly,
                             std::uint8_t last_octet = 1) {
  TransportAddress t;
  t.protocol = TransportProtocol::Sctp;
  t.port = port;
  t.use = use;
  t.addresses.push_back(IpAddress::v4(10, 0, 0, last_octet));
  t.addresses.push_back(IpAddress::v4(10, 0, 1, last_octet));
  return t;
}

inline TransportAddress tcp(std::uint16_t port) {
  TransportAddress t;
  t.protocol = TransportProtocol::Tcp;
  t.port = port;
  t.addresses.push_back(IpAddress::v4(192, 168, 0, 1));
  return t;
}

inline PolicyInfo policy(PolicyType type) {
  PolicyInfo p;
  p.type = type;
  return p;
}

inline PoolElementRegistration pe(PoolElementId id, PolicyInfo pol = policy(PolicyType::RoundRobin),
                                  OwnerTag owner = 1, RegistrarId home = 100) {
  PoolElementRegistration r;
  r.id = id;
  r.home_registrar = home;
  r.lifetime = std::chrono::seconds(30);
  r.user_transports.push_back(sctp(static_cast<std::uint16_t>(1000 + (id % 50000))));
  r.policy = pol;
  r.owner = owner;
  return r;
}

}  // namespace rsp::handlespace::test
