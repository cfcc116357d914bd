#include "status.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "rsp/handlespace/policy.hpp"
#include "rsp/version.hpp"

namespace rsp::registrar {

namespace {

using nlohmann::json;

std::string_view protocol_name(TransportProtocol p) {
  switch (p) {
    case TransportProtocol::Sctp: return "sctp";
    case TransportProtocol::Tcp: return "tcp";
    case TransportProtocol::Udp: return "udp";
    case TransportProtocol::UdpLite: return "udplite";
    case TransportProtocol::Dccp: return "dccp";
  }
  return "?";
}

std::string hex_of(std::string_view bytes) {
  std::string s;
  for (unsigned char c : bytes) s += fmt::format("{:02x}", c);
  return s;
}

bool printable(std::string_view bytes) {
  for (unsigned char c : bytes)
    if (c < 0x20 || c > 0x7e) return false;
  return true;
}

std::string handle_text(const PoolHandle& h) {
  return printable(h.view()) ? std::string(h.view()) : "0x" + hex_of(h.view());
}

json transport_json(const TransportAddress& t) {
  json addresses = json::array();
  for (const auto& a : t.addresses) addresses.push_back(address_text(a));
  json j{{"protocol", protocol_name(t.protocol)}, {"port", t.port}, {"addresses", addresses}};
  if (t.protocol == TransportProtocol::Sctp || t.protocol == TransportProtocol::Tcp)
    j["use"] = t.use == TransportUse::DataPlusControl ? "data-plus-control" : "data-only";
  return j;
}

std::string transport_text(const TransportAddress& t) {
  std::string s(protocol_name(t.protocol));
  s += ' ';
  for (std::size_t i = 0; i < t.addresses.size(); ++i) {
    if (i) s += ',';
    s += socket_text(t.addresses[i], t.port);
  }
  return s;
}

json policy_json(const PolicyInfo& p) {
  json j{{"type", handlespace::policy_name(p.type)}, {"id", static_cast<std::uint32_t>(p.type)}};
  if (p.weight) j["weight"] = p.weight;
  if (p.priority) j["priority"] = p.priority;
  if (p.load) j["load"] = p.load;
  if (p.load_degradation) j["load_degradation"] = p.load_degradation;
  return j;
}

template <typename Rep, typename Period>
long long ms(std::chrono::duration<Rep, Period> d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

json counters_json(const Counters& c) {
  return json{{"messages_received", c.messages_received},
              {"messages_sent", c.messages_sent},
              {"registrations", c.registrations},
              {"reregistrations", c.reregistrations},
              {"registrations_rejected", c.registrations_rejected},
              {"deregistrations", c.deregistrations},
              {"handle_resolutions", c.handle_resolutions},
              {"handle_resolutions_failed", c.handle_resolutions_failed},
              {"unreachable_reports", c.unreachable_reports},
              {"unreachable_removals", c.unreachable_removals},
              {"keepalives_sent", c.keepalives_sent},
              {"keepalive_acks", c.keepalive_acks},
              {"keepalive_timeouts", c.keepalive_timeouts},
              {"expirations", c.expirations},
              {"association_removals", c.association_removals},
              {"malformed_messages", c.malformed_messages},
              {"unexpected_messages", c.unexpected_messages},
              {"rate_limited", c.rate_limited},
              {"associations_up", c.associations_up},
              {"associations_lost", c.associations_lost}};
}

}  // namespace

std::string address_text(const IpAddress& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(a.is_v4() ? AF_INET : AF_INET6, a.bytes.data(), buf, sizeof buf);
  return buf;
}

std::string socket_text(const IpAddress& a, std::uint16_t port) {
  return a.is_v4() ? fmt::format("{}:{}", address_text(a), port)
                   : fmt::format("[{}]:{}", address_text(a), port);
}

std::string render_status_json(const RegistrarCore& core, const StatusContext& ctx) {
  const auto& hs = core.handlespace();
  json pools = json::array();
  for (const auto& handle : hs.pool_handles()) {
    json elements = json::array();
    for (auto id : hs.element_ids(handle)) {
      auto e = hs.find(handle, id);
      if (!e) continue;
      auto st = core.element_state(handle, id);
      json j{{"id", e->id},
             {"home_registrar", e->home_registrar},
             {"lifetime_ms", e->lifetime.count()},
             {"expires_in_ms", ms(e->expiry - ctx.now)},
             {"transport", e->user_transports.empty() ? json() : transport_json(e->user_transports[0])},
             {"policy", policy_json(e->policy)}};
      if (st) {
        j["association"] = st->association;
        j["unreachable_reports"] = st->unreachable_reports;
        j["registered_ms_ago"] = ms(ctx.now - st->registered_at);
        j["awaiting_keepalive_ack"] = st->ack_deadline.has_value();
        if (st->asap_transport) j["asap_transport"] = transport_json(*st->asap_transport);
      }
      elements.push_back(std::move(j));
    }
    auto policy = hs.pool_policy(handle);
    pools.push_back(json{{"handle", handle_text(handle)},
                         {"handle_hex", hex_of(handle.view())},
                         {"policy", policy ? handlespace::policy_name(*policy) : ""},
                         {"elements", std::move(elements)}});
  }
  json j{{"registrar_id", core.config().id},
         {"registrar_id_hex", fmt::format("0x{:08x}", core.config().id)},
         {"version", std::string(rsp::version())},
         {"backend", transport::to_string(ctx.backend)},
         {"listening", ctx.listening},
         {"announce", ctx.announce.empty() ? json() : json(ctx.announce)},
         {"uptime_ms", ctx.uptime.count()},
         {"associations", core.association_count()},
         {"pool_count", hs.pool_count()},
         {"element_count", hs.element_count()},
         {"counters", counters_json(core.counters())},
         {"pools", std::move(pools)}};
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string render_status_text(const RegistrarCore& core, const StatusContext& ctx) {
  const auto& hs = core.handlespace();
  std::string s;
  s += fmt::format("registrar 0x{:08x} (rsp {}), backend {}, up {} s\n", core.config().id,
                   rsp::version(), transport::to_string(ctx.backend), ctx.uptime.count() / 1000);
  for (const auto& l : ctx.listening) s += fmt::format("listening {}\n", l);
  s += fmt::format("announce {}\n", ctx.announce.empty() ? "off" : ctx.announce);
  s += fmt::format("{} pools, {} pool elements, {} associations\n", hs.pool_count(),
                   hs.element_count(), core.association_count());
  for (const auto& handle : hs.pool_handles()) {
    auto policy = hs.pool_policy(handle);
    s += fmt::format("pool {} ({}, {} elements)\n", handle_text(handle),
                     policy ? handlespace::policy_name(*policy) : "?", hs.pool_size(handle));
    for (auto id : hs.element_ids(handle)) {
      auto e = hs.find(handle, id);
      if (!e) continue;
      auto st = core.element_state(handle, id);
      s += fmt::format("  pe 0x{:08x} home 0x{:08x} {} policy {}", e->id, e->home_registrar,
                       e->user_transports.empty() ? "-" : transport_text(e->user_transports[0]),
                       handlespace::policy_name(e->policy.type));
      if (e->policy.weight) s += fmt::format(" weight {}", e->policy.weight);
      if (e->policy.load) s += fmt::format(" load {}", e->policy.load);
      if (e->policy.priority) s += fmt::format(" priority {}", e->policy.priority);
      s += fmt::format(" expires in {} ms", ms(e->expiry - ctx.now));
      if (st) s += fmt::format(" assoc {}", st->association);
      s += '\n';
    }
  }
  const auto c = counters_json(core.counters());
  s += "counters";
  for (auto it = c.begin(); it != c.end(); ++it) s += fmt::format(" {}={}", it.key(), it.value().get<std::uint64_t>());
  s += '\n';
  return s;
}

}  // namespace rsp::registrar
