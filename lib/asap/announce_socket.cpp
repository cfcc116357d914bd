#include "announce_socket.hpp"

#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/multicast.hpp>
#include <boost/asio/ip/v6_only.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "rsp/asap/config.hpp"

namespace rsp::asap::detail {

namespace asio = boost::asio;

std::vector<MulticastInterface> multicast_interfaces(bool v6) {
  std::vector<MulticastInterface> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != (v6 ? AF_INET6 : AF_INET)) continue;
    if ((i->ifa_flags & IFF_UP) == 0 || (i->ifa_flags & (IFF_MULTICAST | IFF_LOOPBACK)) == 0) continue;
    const unsigned index = ::if_nametoindex(i->ifa_name);
    if (index == 0) continue;
    const bool known = std::any_of(out.begin(), out.end(),
                                   [&](const MulticastInterface& m) { return m.index == index; });
    if (!known) out.push_back(MulticastInterface{i->ifa_name, index});
  }
  ::freeifaddrs(list);
  return out;
}

bool is_multicast(const IpAddress& a) noexcept {
  return a.is_v4() ? (a.bytes[0] & 0xf0) == 0xe0 : a.bytes[0] == 0xff;
}

namespace {

asio::ip::address_v6 to_v6(const IpAddress& a, unsigned scope = 0) {
  asio::ip::address_v6::bytes_type b;
  std::copy(a.bytes.begin(), a.bytes.end(), b.begin());
  return asio::ip::address_v6(b, scope);
}

asio::ip::address_v4 to_v4(const IpAddress& a) {
  return asio::ip::address_v4({a.bytes[0], a.bytes[1], a.bytes[2], a.bytes[3]});
}

// IPv6 multicast scope (RFC 4291 §2.7): 1 interface-local, 2 link-local. Such groups need an
// interface to bind to; we bind the wildcard instead and rely on the joins.
bool link_scope(const IpAddress& group) { return !group.is_v4() && (group.bytes[1] & 0x0f) <= 2; }

AsapError fail(const IpAddress& group, std::uint16_t port, const std::string& why) {
  TransportAddress where;
  where.port = port;
  where.addresses.push_back(group);
  return make_error(AsapErrc::TransportError,
                    "cannot listen for SERVER_ANNOUNCE on " + format_transport_address(where) + ": " + why);
}

}  // namespace

AsapResult<std::unique_ptr<asio::ip::udp::socket>> open_announce_socket(
    asio::io_context& io, const IpAddress& group, std::uint16_t port, const std::string& interface_name) {
  if (!is_multicast(group)) return fail(group, port, "not a multicast group");
  std::vector<MulticastInterface> interfaces;
  if (!interface_name.empty()) {
    const unsigned index = ::if_nametoindex(interface_name.c_str());
    if (index == 0) return fail(group, port, "no interface '" + interface_name + "'");
    interfaces.push_back(MulticastInterface{interface_name, index});
  } else {
    interfaces = multicast_interfaces(!group.is_v4());
  }
  const bool v6 = !group.is_v4();
  boost::system::error_code ec;
  auto s = std::make_unique<asio::ip::udp::socket>(io);
  s->open(v6 ? asio::ip::udp::v6() : asio::ip::udp::v4(), ec);
  if (ec) return fail(group, port, ec.message());
  s->set_option(asio::ip::udp::socket::reuse_address(true), ec);
  if (v6) s->set_option(asio::ip::v6_only(true), ec);
  asio::ip::udp::endpoint local;
  if (!v6) {
    local = asio::ip::udp::endpoint(to_v4(group), port);
  } else if (!link_scope(group)) {
    local = asio::ip::udp::endpoint(to_v6(group), port);
  } else if (interfaces.size() == 1) {
    local = asio::ip::udp::endpoint(to_v6(group, interfaces[0].index), port);
  } else {
    local = asio::ip::udp::endpoint(asio::ip::address_v6::any(), port);
  }
  s->bind(local, ec);
  if (ec == asio::error::address_in_use) {
    // With the UDP backend (RFC 6951) an SCTP port is a UDP port: a registrar on this host
    // listening on the wildcard address at this port holds it for every address.
    return fail(group, port,
                "UDP port " + std::to_string(port) +
                    " is taken on this host (a registrar using SCTP over UDP on the wildcard "
                    "address?); give it specific --listen addresses, or configure the registrar");
  }
  if (ec) return fail(group, port, ec.message());
  // Only the groups joined here, not every group some socket on the host joined (Linux).
#ifdef IP_MULTICAST_ALL
  if (!v6) {
    const int off = 0;
    (void)::setsockopt(s->native_handle(), IPPROTO_IP, IP_MULTICAST_ALL, &off, sizeof off);
  }
#endif
#ifdef IPV6_MULTICAST_ALL
  if (v6) {
    const int off = 0;
    (void)::setsockopt(s->native_handle(), IPPROTO_IPV6, IPV6_MULTICAST_ALL, &off, sizeof off);
  }
#endif
  if (interfaces.empty()) interfaces.push_back(MulticastInterface{"", 0});  // the system's choice
  std::size_t joined = 0;
  std::string last_error;
  for (const auto& i : interfaces) {
    int rc = 0;
    if (v6) {
      s->set_option(asio::ip::multicast::join_group(to_v6(group), i.index), ec);
      rc = ec ? -1 : 0;
      if (ec) last_error = ec.message();
    } else {
      // ip_mreqn: join by interface index (an interface address is ambiguous or absent).
      ip_mreqn m{};
      std::memcpy(&m.imr_multiaddr, group.bytes.data(), 4);
      m.imr_ifindex = static_cast<int>(i.index);
      rc = ::setsockopt(s->native_handle(), IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m);
      if (rc != 0) last_error = std::strerror(errno);
    }
    if (rc == 0) ++joined;
  }
  if (joined == 0) {
    return fail(group, port,
                "joining the group failed" + (interface_name.empty() ? std::string() : " on " + interface_name) +
                    ": " + last_error);
  }
  return s;
}

}  // namespace rsp::asap::detail
