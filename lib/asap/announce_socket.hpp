// The SERVER_ANNOUNCE receiver's UDP socket (RFC 5352 §3.6.1): bound to the group and port, and
// joined to the group on the interfaces a registrar may announce on.
#pragma once

#include <boost/asio/ip/udp.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "rsp/asap/error.hpp"
#include "rsp/wire/types.hpp"

namespace rsp::asap::detail {

struct MulticastInterface {
  std::string name;
  unsigned index = 0;
};

// Interfaces that are up, can carry multicast (IFF_MULTICAST, or loopback: a registrar on this
// host announcing over lo) and have an address of the family asked for.
std::vector<MulticastInterface> multicast_interfaces(bool v6);

bool is_multicast(const IpAddress& address) noexcept;

// Binds `group`:`port` (the group address itself, so that a registrar's UDP-encapsulated SCTP
// socket on a unicast address of this host and port does not collide; link-scope IPv6 groups
// bind the wildcard) with SO_REUSEADDR (several PEs and PUs per host), and joins the group on
// `interface_name`, or on every multicast_interfaces() when it is empty. Fails when no join
// succeeds.
AsapResult<std::unique_ptr<boost::asio::ip::udp::socket>> open_announce_socket(
    boost::asio::io_context& io, const IpAddress& group, std::uint16_t port,
    const std::string& interface_name);

}  // namespace rsp::asap::detail
