// Address conversions for the usrsctp backend, and the UDP path MTU of a destination.
#pragma once

#include <cstdint>

#include <boost/asio/ip/address.hpp>

#include "rsp/wire/types.hpp"

namespace rsp::transport::usrsctp_detail {

boost::asio::ip::address to_asio(const IpAddress& address);
// IPv4-mapped IPv6 addresses (from a dual-stack socket) come back as IPv4.
IpAddress from_asio(const boost::asio::ip::address& address);
// Bytes of SCTP packet that fit one UDP datagram towards `address` (RFC 6951 §5.6): the route's
// MTU (asked from the kernel through a connected UDP socket) less the IP and UDP headers.
std::uint32_t udp_path_mtu(const IpAddress& address);

}  // namespace rsp::transport::usrsctp_detail
