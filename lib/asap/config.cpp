// Defaults (RFC 5352 §5), profiles, and ADDR:PORT parsing shared by the tools.
#include "rsp/asap/config.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace rsp::asap {

milliseconds Timers::effective_reregistration_interval() const {
  if (reregistration_interval) return *reregistration_interval;
  // RFC 5352 §5.1 T4-reregistration: 10 min or lifetime - 20 s, whichever is less. For short
  // lifetimes (tests, the low-latency profile) 20 s would leave nothing: use half the lifetime.
  const milliseconds rfc = std::min<milliseconds>(std::chrono::minutes(10),
                                                  registration_lifetime - std::chrono::seconds(20));
  const milliseconds minus_margin = registration_lifetime - std::chrono::seconds(20);
  return minus_margin < registration_lifetime / 2 ? registration_lifetime / 2 : rfc;
}

milliseconds Timers::effective_unreachable_memory() const {
  if (unreachable_memory) return *unreachable_memory;
  // The registrar's keep-alive audit (5 s interval + 5 s timeout) drops a dead PE within 10 s;
  // a resolution answered before that may list it for Stale.cache.value more.
  return stale_cache + std::chrono::seconds(10);
}

IpAddress default_announce_group() { return IpAddress::v4(239, 0, 0, 50); }

AsapConfig default_config() {
  AsapConfig c;
  // Data associations: a silent (killed or frozen) PE is declared lost after about
  // 4 x 200 ms of unanswered retransmissions, or after a heartbeat round when idle; an ABORT
  // from the PE's host (process killed, kernel SCTP) is immediate.
  c.data_association.rto_initial = milliseconds(200);
  c.data_association.rto_min = milliseconds(100);
  c.data_association.rto_max = milliseconds(200);
  c.data_association.heartbeat_interval = milliseconds(500);
  c.data_association.max_retransmissions = 3;
  c.data_association.path_max_retransmissions = 3;
  c.data_association.max_init_retransmissions = 3;
  c.registrar_association.rto_initial = milliseconds(500);
  c.registrar_association.rto_min = milliseconds(200);
  c.registrar_association.rto_max = milliseconds(1000);
  c.registrar_association.heartbeat_interval = milliseconds(1000);
  c.registrar_association.max_retransmissions = 4;
  c.registrar_association.path_max_retransmissions = 4;
  c.registrar_association.max_init_retransmissions = 3;
  return c;
}

AsapConfig low_latency_config() {
  AsapConfig c = default_config();
  c.data_association.rto_initial = milliseconds(40);
  c.data_association.rto_min = milliseconds(20);
  c.data_association.rto_max = milliseconds(40);
  c.data_association.heartbeat_interval = milliseconds(50);
  c.data_association.max_retransmissions = 3;
  c.data_association.path_max_retransmissions = 3;
  c.data_association.max_init_retransmissions = 2;
  c.registrar_association.rto_initial = milliseconds(100);
  c.registrar_association.rto_min = milliseconds(50);
  c.registrar_association.rto_max = milliseconds(200);
  c.registrar_association.heartbeat_interval = milliseconds(200);
  c.registrar_association.max_retransmissions = 3;
  c.timers.request_timeout = milliseconds(500);
  c.timers.registration_timeout = milliseconds(1000);
  c.timers.deregistration_timeout = milliseconds(1000);
  c.timers.server_hunt_timeout = milliseconds(1000);
  c.timers.server_hunt_retry_delay = milliseconds(200);
  c.timers.stale_cache = milliseconds(1000);
  c.timers.failover_connect_timeout = milliseconds(100);
  c.timers.failover_connect_stagger = milliseconds(20);
  return c;
}

namespace {

AsapError bad_address(std::string_view text, std::string_view why) {
  return make_error(AsapErrc::InvalidArgument,
                    "bad address '" + std::string(text) + "': " + std::string(why));
}

}  // namespace

AsapResult<TransportAddress> parse_transport_address(std::string_view text,
                                                     std::uint16_t default_port) {
  std::string host;
  std::string_view port_text;
  if (text.empty()) return bad_address(text, "empty");
  if (text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return bad_address(text, "missing ']'");
    host = std::string(text.substr(1, close - 1));
    const auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return bad_address(text, "expected ':PORT' after ']'");
      port_text = rest.substr(1);
    }
  } else {
    const auto colon = text.rfind(':');
    if (colon != std::string_view::npos && text.find(':') == colon) {
      host = std::string(text.substr(0, colon));
      port_text = text.substr(colon + 1);
    } else {
      host = std::string(text);  // bare IPv4/name, or a bare IPv6 address
    }
  }
  std::uint16_t port = default_port;
  if (!port_text.empty() || (text.back() == ':')) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || value == 0 || value > 65535) {
      return bad_address(text, "port must be 1..65535");
    }
    port = static_cast<std::uint16_t>(value);
  }
  if (host.empty()) return bad_address(text, "missing address");

  TransportAddress result;
  result.protocol = TransportProtocol::Sctp;
  result.port = port;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  if (const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &list); rc != 0) {
    return bad_address(text, ::gai_strerror(rc));
  }
  for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    IpAddress address;
    if (ai->ai_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(ai->ai_addr);
      std::memcpy(address.bytes.data(), &sin->sin_addr, 4);
    } else if (ai->ai_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(ai->ai_addr);
      address.family = IpAddress::Family::V6;
      std::memcpy(address.bytes.data(), &sin6->sin6_addr, 16);
    } else {
      continue;
    }
    if (std::find(result.addresses.begin(), result.addresses.end(), address) == result.addresses.end()) {
      result.addresses.push_back(address);
    }
  }
  ::freeaddrinfo(list);
  if (result.addresses.empty()) return bad_address(text, "no IPv4/IPv6 address");
  return result;
}

AsapResult<std::vector<TransportAddress>> parse_registrar_list(std::string_view text) {
  std::vector<TransportAddress> out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    auto item = text.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) {
      auto parsed = parse_transport_address(item);
      if (!parsed) return std::move(parsed).error();
      out.push_back(std::move(*parsed));
    }
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

std::string format_ip_address(const IpAddress& address) {
  char buffer[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(address.is_v4() ? AF_INET : AF_INET6, address.bytes.data(), buffer, sizeof buffer);
  return buffer;
}

std::string format_transport_address(const TransportAddress& address) {
  if (address.addresses.empty()) return "*:" + std::to_string(address.port);
  const IpAddress& first = address.addresses[0];
  if (first.is_v4()) return format_ip_address(first) + ":" + std::to_string(address.port);
  return "[" + format_ip_address(first) + "]:" + std::to_string(address.port);
}

}  // namespace rsp::asap
