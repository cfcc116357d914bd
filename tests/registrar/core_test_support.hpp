// A recording Output and message builders for the registrar core tests (simulated time).
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <vector>

#include "rsp/registrar/core.hpp"
#include "rsp/wire/codec.hpp"

namespace rsp::registrar::test {

using namespace std::chrono_literals;

inline TimePoint t0() { return TimePoint(std::chrono::seconds(5000)); }

struct Recorder : Output {
  std::vector<std::pair<AssociationRef, std::vector<std::byte>>> sent;
  std::vector<Event> events;
  void send(AssociationRef a, std::vector<std::byte> m) override { sent.emplace_back(a, std::move(m)); }
  void event(const Event& e) override { events.push_back(e); }

  // Decoded messages sent to `a` since the last take(), in order.
  std::vector<wire::AsapMessage> take(AssociationRef a) {
    std::vector<wire::AsapMessage> out;
    std::vector<std::pair<AssociationRef, std::vector<std::byte>>> rest;
    for (auto& [to, bytes] : sent) {
      if (to != a) {
        rest.emplace_back(to, std::move(bytes));
        continue;
      }
      auto m = wire::decode_asap(bytes);
      if (!m) FAIL("the registrar sent an undecodable message: ", wire::to_string(m.error().code), ": ", m.error().message);
      out.push_back(std::move(*m));
    }
    sent = std::move(rest);
    return out;
  }
  template <typename M>
  M only(AssociationRef a) {
    auto all = take(a);
    REQUIRE(all.size() == 1);
    REQUIRE(std::holds_alternative<M>(all[0]));
    return std::get<M>(all[0]);
  }
  bool saw(std::string_view kind) const {
    for (auto& e : events)
      if (e.kind == kind) return true;
    return false;
  }
};

inline TransportAddress peer_at(std::uint8_t last_octet, std::uint16_t port = 40000) {
  TransportAddress t;
  t.port = port;
  t.addresses.push_back(IpAddress::v4(10, 0, 0, last_octet));
  return t;
}

inline wire::asap::Registration registration(std::string_view pool, PoolElementId id,
                                             std::uint8_t last_octet = 1,
                                             PolicyType policy = PolicyType::RoundRobin) {
  wire::asap::Registration r;
  r.pool_handle = PoolHandle(pool);
  r.pool_element.id = id;
  r.pool_element.registration_life = 30s;
  r.pool_element.user_transport.protocol = TransportProtocol::Sctp;
  r.pool_element.user_transport.port = 7000;
  r.pool_element.user_transport.addresses.push_back(IpAddress::v4(10, 0, 0, last_octet));
  r.pool_element.policy.type = policy;
  return r;
}

inline std::vector<std::byte> bytes_of(const wire::AsapMessage& m) { return wire::encode(m); }

struct Harness {
  Recorder out;
  RegistrarCore core;
  explicit Harness(Config c = default_config()) : core(c, out) {}
  static Config default_config() {
    Config c;
    c.id = 0x1234;
    return c;
  }
  void up(AssociationRef a, std::uint8_t last_octet, TimePoint now = t0()) {
    core.on_association_up(a, peer_at(last_octet), now);
  }
  void deliver(AssociationRef a, const wire::AsapMessage& m, TimePoint now = t0(),
               std::uint8_t last_octet = 1) {
    auto b = bytes_of(m);
    core.on_message(a, peer_at(last_octet), b, now);
  }
  void deliver_raw(AssociationRef a, std::vector<std::byte> b, TimePoint now = t0()) {
    core.on_message(a, peer_at(1), b, now);
  }
  // Advances simulated time to `until`, firing every deadline on the way.
  void run_until(TimePoint until) {
    while (auto d = core.next_deadline()) {
      if (*d > until) break;
      core.on_timer(*d);
    }
    core.on_timer(until);
  }
};

inline std::vector<std::byte> raw(std::initializer_list<int> values) {
  std::vector<std::byte> b;
  for (int v : values) b.push_back(std::byte(static_cast<unsigned char>(v)));
  return b;
}

}  // namespace rsp::registrar::test
